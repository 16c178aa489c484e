/**
 * The HTTP/1.1 client under the sender: keep-alive connections per origin, one POST at a time
 * on each (no pipelining), the answer read as it arrives and framed by Content-Length, chunked
 * transfer coding or the end of the connection.
 *
 * Why not undici: a delivery is always the same small exchange (one POST with headers Herald
 * built and checked, a short answer of which at most 16 KiB is kept), and undici's general
 * machinery (a request object, header validation, a WebAssembly parser, its queues and
 * events) cost about half of the sender thread's time per attempt in the benchmark, more than
 * the signing and the socket writes together. This client does only what a delivery needs.
 *
 * What it does not do, on purpose: follow redirects (a 3xx is the answer), retry (a failed
 * attempt is retried by the delivery schedule), pipeline, decompress, or keep more than
 * `maxBody` bytes of an answer (it stops reading there and drops that connection).
 */
import net from 'node:net';
import tls from 'node:tls';
import type {LookupFunction} from 'node:net';

/** Where requests go: one pool of connections per `key` (scheme, host and port). */
export interface Http1Origin {
  readonly key: string;
  readonly secure: boolean;
  /** The host to connect to (an IPv6 literal without its brackets). */
  readonly host: string;
  readonly port: number;
  /** The Host header (with the port when it is not the scheme's default). */
  readonly hostHeader: string;
  /** TLS server name (SNI); undefined for an IP literal. */
  readonly servername: string | undefined;
}

/**
 * How one exchange ended: an answer (its body possibly cut short once its head had arrived: the
 * body limit, the time limit, a reset), or a failure before any answer.
 */
export type Http1Outcome =
  | {readonly kind: 'answer'; readonly status: number; readonly headers: Record<string, string>; readonly body: Buffer}
  | {readonly kind: 'failed'; readonly error: unknown};

export interface Http1Options {
  readonly lookup?: LookupFunction;
  /** How long an idle connection is kept, in ms (shortened by a server's `Keep-Alive: timeout=`). */
  readonly keepAliveTimeoutMs: number;
  /** Connections per origin; null = no limit. */
  readonly connectionsPerOrigin: number | null;
  /** Bytes of an answer's body kept at most; reading stops there. */
  readonly maxBody: number;
}

export interface Http1Client {
  /**
   * POSTs `body` with `head` (the request line and header lines, as `requestHead` builds them)
   * and calls `done` once: with the answer, or with the reason it failed. `stop(exchange,
   * reason)` ends it early (the time limit): an answer whose head is in ends with what arrived.
   */
  post(origin: Http1Origin, head: string, body: string | Uint8Array, done: (outcome: Http1Outcome) => void): Exchange;
  /** Ends an exchange now: with what arrived if its answer had begun, else failed with `reason`. */
  stop(exchange: Exchange, reason: Error): void;
  /** Ends every exchange (failed with `reason`) and destroys every connection; later posts still work. */
  destroyAll(reason: Error): void;
  /** Resolves once no exchange is running, then closes every connection. */
  close(): Promise<void>;
}

/** The request head: request line, Host, the given headers, Content-Length if missing; or why not. */
export function requestHead(origin: Http1Origin, path: string, headers: Readonly<Record<string, string>>, bodyLength: number): string | Error {
  if (!PATH.test(path)) return new Error('the request path has characters HTTP does not allow');
  let head = `POST ${path} HTTP/1.1\r\nHost: ${origin.hostHeader}\r\nConnection: keep-alive\r\n`;
  let length = false;
  for (const name in headers) {
    const value = headers[name]!;
    if (!TOKEN.test(name)) return new Error(`invalid header name ${JSON.stringify(name)}`);
    if (!FIELD_VALUE.test(value)) return new Error(`invalid value for header ${name}`);
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === 'connection' || lower === 'transfer-encoding') continue;
    if (lower === 'content-length') {
      if (value !== String(bodyLength)) return new Error(`Content-Length ${value} does not match the body (${bodyLength} bytes)`);
      length = true;
    }
    head += `${name}: ${value}\r\n`;
  }
  if (!length) head += `Content-Length: ${bodyLength}\r\n`;
  return `${head}\r\n`;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII, spaces and tabs: never CR, LF, NUL, or a character whose bytes would be ambiguous. */
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;
const PATH = /^\/[\x21-\x7e]*$/;

/** Longest response head accepted (status line and headers). */
const MAX_HEAD = 64 * 1024;

/** One request on its way (or waiting for a connection). */
export interface Exchange {
  readonly origin: Http1Origin;
  readonly head: string;
  readonly body: string | Uint8Array;
  readonly done: (outcome: Http1Outcome) => void;
  connection: Connection | null;
  finished: boolean;
  status: number;
  headers: Record<string, string> | null;
  chunks: Buffer[];
  size: number;
}

/** Per origin: idle connections (most recent last), how many are open, who waits for one. */
interface Pool {
  readonly key: string;
  readonly idle: Connection[];
  open: number;
  readonly waiting: Exchange[];
}

/** How the answer's body is delimited: none, Content-Length, chunked, or the connection's end. */
const Framing = {None: 0, Length: 1, Chunked: 2, UntilClose: 3} as const;
type Framing = (typeof Framing)[keyof typeof Framing];

/** Where a chunked body's reader is: a size line, data, the CRLF after data, or trailers. */
const Chunk = {Size: 0, Data: 1, DataEnd: 2, Trailers: 3} as const;
type Chunk = (typeof Chunk)[keyof typeof Chunk];

/** One keep-alive connection and the parser state of the answer it is reading. */
interface Connection {
  readonly socket: net.Socket;
  readonly pool: Pool;
  exchange: Exchange | null;
  /** Bytes not parsed yet (an incomplete head or chunk-size line). */
  pending: Buffer | null;
  framing: Framing;
  /** Body bytes left (Length), or of the current chunk (Chunked). */
  remaining: number;
  chunk: Chunk;
  /** The request's bytes have all been handed to the kernel. */
  written: boolean;
  /** The answer allows the connection to be used again. */
  reusable: boolean;
  keepAliveMs: number;
  idleSince: number;
  error: unknown;
}

export function createHttp1Client(options: Http1Options): Http1Client {
  const pools = new Map<string, Pool>();
  const connections = new Set<Connection>();
  let running = 0;
  /** close() calls waiting for the running exchanges to end. */
  let onIdle: (() => void)[] = [];
  let sweeper: NodeJS.Timeout | null = null;

  function poolOf(key: string): Pool {
    let pool = pools.get(key);
    if (!pool) pools.set(key, (pool = {key, idle: [], open: 0, waiting: []}));
    return pool;
  }

  function post(origin: Http1Origin, head: string, body: string | Uint8Array, done: (outcome: Http1Outcome) => void): Exchange {
    const exchange: Exchange = {origin, head, body, done, connection: null, finished: false, status: 0, headers: null, chunks: [], size: 0};
    running++;
    const pool = poolOf(origin.key);
    const idle = takeIdle(pool);
    if (idle) start(idle, exchange);
    else if (options.connectionsPerOrigin === null || pool.open < options.connectionsPerOrigin) start(connect(origin, pool), exchange);
    else pool.waiting.push(exchange);
    return exchange;
  }

  /** The most recently used idle connection still worth using. */
  function takeIdle(pool: Pool): Connection | null {
    const now = Date.now();
    for (let connection = pool.idle.pop(); connection; connection = pool.idle.pop()) {
      if (!connection.socket.destroyed && connection.socket.writable && now - connection.idleSince < connection.keepAliveMs) return connection;
      connection.socket.destroy();
    }
    return null;
  }

  function connect(origin: Http1Origin, pool: Pool): Connection {
    const base = {host: origin.host, port: origin.port, ...(options.lookup ? {lookup: options.lookup} : {})};
    const socket = origin.secure ? tls.connect({...base, servername: origin.servername, ALPNProtocols: ['http/1.1']}) : net.connect(base);
    socket.setNoDelay(true);
    const connection: Connection = {
      socket,
      pool,
      exchange: null,
      pending: null,
      framing: Framing.None,
      remaining: 0,
      chunk: Chunk.Size,
      written: false,
      reusable: false,
      keepAliveMs: options.keepAliveTimeoutMs,
      idleSince: 0,
      error: null,
    };
    pool.open++;
    connections.add(connection);
    socket.on('data', (data: Buffer) => onData(connection, data));
    socket.on('end', () => onEnd(connection));
    socket.on('error', (error) => {
      connection.error ??= error;
    });
    socket.on('close', () => onClose(connection));
    return connection;
  }

  function start(connection: Connection, exchange: Exchange): void {
    connection.exchange = exchange;
    exchange.connection = connection;
    connection.pending = null;
    connection.framing = Framing.None;
    connection.written = false;
    connection.reusable = false;
    const socket = connection.socket;
    const written = () => {
      if (connection.exchange === exchange) connection.written = true;
    };
    // One write system call for both (writev): the head is ASCII, the body goes as UTF-8 bytes.
    socket.cork();
    socket.write(exchange.head, 'latin1');
    if (typeof exchange.body === 'string') socket.write(exchange.body, 'utf8', written);
    else socket.write(exchange.body, written);
    socket.uncork();
  }

  function onData(connection: Connection, data: Buffer): void {
    const exchange = connection.exchange;
    if (!exchange || exchange.finished) {
      // Bytes nobody asked for: this connection cannot be trusted with another request.
      connection.socket.destroy();
      return;
    }
    const buffer = connection.pending ? Buffer.concat([connection.pending, data]) : data;
    connection.pending = null;
    let at = 0;
    try {
      while (at < buffer.length && !exchange.finished) {
        if (exchange.headers === null) {
          const end = buffer.indexOf('\r\n\r\n', at, 'latin1');
          if (end < 0) {
            if (buffer.length - at > MAX_HEAD) throw badResponse('the response head is too large');
            connection.pending = buffer.subarray(at);
            return;
          }
          const informational = readHead(connection, exchange, buffer.toString('latin1', at, end));
          at = end + 4;
          if (informational) continue;
          if (connection.framing === Framing.None) {
            complete(connection, exchange, at < buffer.length);
            return;
          }
          continue;
        }
        if (connection.framing === Framing.Length || connection.framing === Framing.UntilClose) {
          const take = connection.framing === Framing.Length ? Math.min(connection.remaining, buffer.length - at) : buffer.length - at;
          keep(connection, exchange, buffer.subarray(at, at + take));
          at += take;
          if (connection.framing === Framing.Length) {
            connection.remaining -= take;
            if (connection.remaining === 0 && !exchange.finished) complete(connection, exchange, at < buffer.length);
          }
          continue;
        }
        // Chunked.
        if (connection.chunk === Chunk.Data) {
          const take = Math.min(connection.remaining, buffer.length - at);
          keep(connection, exchange, buffer.subarray(at, at + take));
          at += take;
          connection.remaining -= take;
          if (connection.remaining === 0) connection.chunk = Chunk.DataEnd;
          continue;
        }
        const eol = buffer.indexOf('\r\n', at, 'latin1');
        if (eol < 0) {
          if (buffer.length - at > 4096) throw badResponse('a chunk line is too long');
          connection.pending = buffer.subarray(at);
          return;
        }
        const line = buffer.toString('latin1', at, eol);
        at = eol + 2;
        if (connection.chunk === Chunk.DataEnd) {
          if (line !== '') throw badResponse('a chunk does not end where its size says');
          connection.chunk = Chunk.Size;
        } else if (connection.chunk === Chunk.Size) {
          const size = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;.*)?$/.exec(line);
          if (!size) throw badResponse('an invalid chunk size');
          connection.remaining = Number.parseInt(size[1]!, 16);
          connection.chunk = connection.remaining === 0 ? Chunk.Trailers : Chunk.Data;
        } else if (line === '') {
          complete(connection, exchange, at < buffer.length);
          return;
        }
      }
    } catch (error) {
      fail(connection, exchange, error);
      connection.socket.destroy();
    }
  }

  /** Parses a response head; true for an informational (1xx) answer, which is skipped. */
  function readHead(connection: Connection, exchange: Exchange, text: string): boolean {
    const lines = text.split('\r\n');
    const statusLine = lines[0]!;
    if (!statusLine.startsWith('HTTP/1.') || (statusLine.length > 12 && statusLine[12] !== ' ')) throw badResponse('an invalid status line');
    const status = Number(statusLine.slice(9, 12));
    if (!(status >= 100 && status <= 999) || statusLine[8] !== ' ') throw badResponse('an invalid status line');
    const http10 = statusLine[7] === '0';
    const headers: Record<string, string> = {};
    let previous: string | null = null;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.length === 0) continue;
      if ((line[0] === ' ' || line[0] === '\t') && previous !== null) {
        headers[previous] += ` ${line.trim()}`; // obsolete line folding
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) throw badResponse('an invalid header line');
      const name = line.slice(0, colon).trimEnd().toLowerCase();
      const value = line.slice(colon + 1).trim().replace(/\u0000/g, '\uFFFD');
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      previous = name;
    }
    if (status < 200 && status !== 101) return true;

    const tokens = (headers.connection ?? '').toLowerCase();
    connection.reusable = status !== 101 && (http10 ? tokens.includes('keep-alive') : !tokens.includes('close'));
    const keepAlive = /timeout=(\d+)/i.exec(headers['keep-alive'] ?? '');
    if (keepAlive) connection.keepAliveMs = Math.min(options.keepAliveTimeoutMs, Number(keepAlive[1]) * 1000 - 1000);

    const coding = headers['transfer-encoding'];
    if (status === 204 || status === 304 || status === 101) connection.framing = Framing.None;
    else if (coding !== undefined) {
      if (!/(?:^|,)\s*chunked\s*$/i.test(coding)) {
        connection.framing = Framing.UntilClose;
        connection.reusable = false;
      } else {
        connection.framing = Framing.Chunked;
        connection.chunk = Chunk.Size;
        // Both framings given: the chunks count, and the connection is not trusted again.
        if (headers['content-length'] !== undefined) connection.reusable = false;
      }
    } else if (headers['content-length'] !== undefined) {
      const values = headers['content-length'].split(',').map((v) => v.trim());
      if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0])) throw badResponse('an invalid Content-Length');
      connection.remaining = Number(values[0]);
      connection.framing = connection.remaining === 0 ? Framing.None : Framing.Length;
    } else {
      connection.framing = Framing.UntilClose;
      connection.reusable = false;
    }
    // Only a head that frames its body is an answer (a broken one fails the attempt).
    exchange.status = status;
    exchange.headers = headers;
    return false;
  }

  /** Keeps body bytes up to maxBody; past it the answer ends with what it kept. */
  function keep(connection: Connection, exchange: Exchange, bytes: Buffer): void {
    if (bytes.length === 0) return;
    exchange.chunks.push(bytes);
    exchange.size += bytes.length;
    if (exchange.size >= options.maxBody) {
      connection.reusable = false;
      complete(connection, exchange, true);
    }
  }

  /** The answer is in (or enough of it): report it; reuse the connection if all is clean. */
  function complete(connection: Connection, exchange: Exchange, leftover: boolean): void {
    finish(exchange, {kind: 'answer', status: exchange.status, headers: exchange.headers!, body: body(exchange)});
    connection.exchange = null;
    connection.pending = null;
    if (!connection.reusable || leftover || !connection.written || connection.keepAliveMs <= 0) connection.socket.destroy();
    else release(connection);
  }

  function release(connection: Connection): void {
    const pool = connection.pool;
    const next = nextWaiting(pool);
    if (next) return start(connection, next);
    connection.idleSince = Date.now();
    pool.idle.push(connection);
    if (!sweeper) {
      sweeper = setInterval(sweep, 1000);
      sweeper.unref();
    }
  }

  /** Closes connections idle past their keep-alive time. */
  function sweep(): void {
    const now = Date.now();
    let idle = 0;
    for (const pool of pools.values()) {
      for (let i = pool.idle.length - 1; i >= 0; i--) {
        const connection = pool.idle[i]!;
        if (now - connection.idleSince >= connection.keepAliveMs) {
          pool.idle.splice(i, 1);
          connection.socket.destroy();
        }
      }
      idle += pool.idle.length;
    }
    if (idle === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = null;
    }
  }

  function nextWaiting(pool: Pool): Exchange | null {
    for (let next = pool.waiting.shift(); next; next = pool.waiting.shift()) if (!next.finished) return next;
    return null;
  }

  function onEnd(connection: Connection): void {
    const exchange = connection.exchange;
    // An answer framed by the end of the connection is complete now.
    if (exchange && !exchange.finished && exchange.headers !== null && connection.framing === Framing.UntilClose) {
      connection.reusable = false;
      complete(connection, exchange, false);
    }
  }

  function onClose(connection: Connection): void {
    connections.delete(connection);
    const pool = connection.pool;
    pool.open--;
    const at = pool.idle.indexOf(connection);
    if (at >= 0) pool.idle.splice(at, 1);
    const exchange = connection.exchange;
    connection.exchange = null;
    if (exchange && !exchange.finished) {
      const error = connection.error ?? Object.assign(new Error('the connection closed before the answer was complete'), {code: 'SOCKET_CLOSED'});
      fail(connection, exchange, error);
    }
    // Someone waits for a connection to this origin: open one in place of this.
    const next = nextWaiting(pool);
    if (next) start(connect(next.origin, pool), next);
    // An origin with nothing open is forgotten (a long-lived process meets many).
    else if (pool.open === 0 && pools.get(pool.key) === pool) pools.delete(pool.key);
  }

  /** Ends an exchange that went wrong: with what arrived if its answer had begun. */
  function fail(connection: Connection | null, exchange: Exchange, error: unknown): void {
    if (connection) {
      connection.exchange = null;
      connection.reusable = false;
    }
    if (exchange.headers !== null) finish(exchange, {kind: 'answer', status: exchange.status, headers: exchange.headers, body: body(exchange)});
    else finish(exchange, {kind: 'failed', error});
  }

  function finish(exchange: Exchange, outcome: Http1Outcome): void {
    if (exchange.finished) return;
    exchange.finished = true;
    exchange.connection = null;
    exchange.chunks = [];
    running--;
    if (running === 0 && onIdle.length > 0) {
      const waiting = onIdle;
      onIdle = [];
      for (const resolve of waiting) resolve();
    }
    exchange.done(outcome);
  }

  function stop(exchange: Exchange, reason: Error): void {
    if (exchange.finished) return;
    const connection = exchange.connection;
    fail(connection, exchange, reason);
    // A connection in the middle of an answer cannot carry another request.
    connection?.socket.destroy();
  }

  function destroyAll(reason: Error): void {
    for (const connection of [...connections]) {
      const exchange = connection.exchange;
      if (exchange) fail(connection, exchange, reason);
      connection.socket.destroy();
    }
    for (const pool of pools.values()) {
      for (let next = pool.waiting.shift(); next; next = pool.waiting.shift()) fail(null, next, reason);
    }
  }

  async function close(): Promise<void> {
    if (running > 0) await new Promise<void>((resolve) => onIdle.push(resolve));
    const closing = [...connections].map((connection) => new Promise((resolve) => connection.socket.once('close', resolve)));
    for (const connection of connections) connection.socket.destroy();
    if (sweeper) clearInterval(sweeper);
    sweeper = null;
    await Promise.all(closing);
  }

  return {post, stop, destroyAll, close};
}

function body(exchange: Exchange): Buffer {
  return exchange.size === 0 ? EMPTY : exchange.chunks.length === 1 ? exchange.chunks[0]! : Buffer.concat(exchange.chunks);
}

const EMPTY = Buffer.alloc(0);

function badResponse(message: string): Error {
  return Object.assign(new Error(`bad response: ${message}`), {code: 'BAD_RESPONSE'});
}
