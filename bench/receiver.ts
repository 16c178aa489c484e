/**
 * The benchmark's receiver, in its own process: an HTTP server that answers 200 at once (or,
 * under /hang/, never: the sender's timeout ends those). It timestamps each arrival with the
 * system-wide monotonic clock (process.hrtime, comparable with the parent's) and reports to
 * the parent over IPC on request, so recording costs no round trip per request.
 *
 * Messages from the parent: {type:'reset'}, {type:'stats'}, {type:'arrivals'} (returns and
 * forgets the marked arrivals), {type:'close'}. It answers each with one message.
 */
import http from 'node:http';
import type {AddressInfo} from 'node:net';

/** One arrival whose body carried a marker (`"bench":"<marker>"` or a post id). */
export interface Arrival {
  readonly path: string;
  /** The resource id found in the body (first `"id":"…"`), or null. */
  readonly resource: string | null;
  /** process.hrtime.bigint() at arrival, in nanoseconds, as a decimal string. */
  readonly at: string;
}

/** Counters since the last reset. */
export interface ReceiverStats {
  readonly count: number;
  /** hrtime (ns, decimal string) of the first and last arrival; null when none. */
  readonly first: string | null;
  readonly last: string | null;
  readonly hanging: number;
}

const ID = /"id":"([0-9a-f]{24})"/;
let count = 0;
let first: bigint | null = null;
let last: bigint | null = null;
let hanging = 0;
let marked: Arrival[] = [];
/** Whether to look for resource ids in bodies (latency scenarios) or only count (throughput). */
let track = false;
const held = new Set<http.ServerResponse>();

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const now = process.hrtime.bigint();
    if (req.url?.startsWith('/hang')) {
      hanging++;
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    count++;
    first ??= now;
    last = now;
    if (track) {
      const match = ID.exec(Buffer.concat(chunks).toString('utf8', 0, 400));
      marked.push({path: req.url ?? '', resource: match ? match[1]! : null, at: now.toString()});
    }
    res.writeHead(200, {'content-length': '0'}).end();
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  process.send!({type: 'ready', port: (server.address() as AddressInfo).port});
});

process.on('message', (message: {type: string; track?: boolean}) => {
  switch (message.type) {
    case 'reset':
      count = 0;
      first = last = null;
      hanging = 0;
      marked = [];
      track = message.track === true;
      process.send!({type: 'reset'});
      break;
    case 'stats':
      process.send!({type: 'stats', stats: {count, first: first?.toString() ?? null, last: last?.toString() ?? null, hanging} satisfies ReceiverStats});
      break;
    case 'arrivals':
      process.send!({type: 'arrivals', arrivals: marked});
      marked = [];
      break;
    case 'close':
      for (const res of held) res.destroy();
      server.close(() => process.exit(0));
      server.closeAllConnections();
      break;
  }
});
process.on('disconnect', () => process.exit(0));
