// Shared helpers of the operations tests: loopback receivers and polling.
import http from 'node:http';
import type {AddressInfo} from 'node:net';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  /** performance.timeOrigin + performance.now() when the body had arrived (ms since epoch, sub-ms). */
  at: number;
}

export interface Receiver {
  url: string;
  got: Received[];
  close(): Promise<void>;
}

/**
 * A receiver on 127.0.0.1 that records requests and answers `status` after `delayMs`;
 * `hang` never answers (the sender's timeout ends the attempt).
 */
export async function receiver(options: {status?: number; delayMs?: number; hang?: boolean} = {}): Promise<Receiver> {
  const got: Received[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      got.push({headers: request.headers, body, at: performance.timeOrigin + performance.now()});
      if (options.hang) return;
      setTimeout(() => response.writeHead(options.status ?? 200).end('ok'), options.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls `check` until it holds or `ms` pass. */
export async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
