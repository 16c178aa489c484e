// The sender's own HTTP/1.1 client (http1.ts) against raw TCP servers that answer with exact
// bytes: how answers are framed (Content-Length, chunked in pieces, to the end of the
// connection), informational answers, when a connection is reused or dropped, what is sent on
// the wire, and the errors of broken answers, bad requests and TLS.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import {createSender, type Sender} from '../../src/delivery/sender.ts';
import {requestHead} from '../../src/delivery/http1.ts';
import {sleep} from './helpers.ts';

/** One request as the raw server saw it. */
interface Seen {
  readonly head: string;
  readonly body: string;
  readonly connection: number;
}

/**
 * A TCP server that reads each HTTP request (head + Content-Length body) and answers with what
 * `answer` returns: a list of byte pieces written a moment apart, then `close` or not.
 */
async function rawServer(answer: (seen: Seen, n: number) => {pieces: (string | Buffer)[]; close?: boolean}): Promise<{url: string; seen: Seen[]; connections: () => number; close(): Promise<void>}> {
  const seen: Seen[] = [];
  const sockets = new Set<net.Socket>();
  let connectionCount = 0;
  const server = net.createServer((socket) => {
    const connection = ++connectionCount;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    socket.on('data', async (data) => {
      buffer = Buffer.concat([buffer, data]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.toString('latin1', 0, end);
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        const request = {head, body: buffer.toString('utf8', end + 4, end + 4 + length), connection};
        buffer = buffer.subarray(end + 4 + length);
        seen.push(request);
        const {pieces, close} = answer(request, seen.length);
        for (const piece of pieces) {
          if (socket.destroyed) return;
          socket.write(piece);
          await sleep(5);
        }
        if (close) socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    connections: () => connectionCount,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const HEADERS = {'Content-Type': 'application/json', 'Content-Length': '2'};

describe('http1 client (under the sender)', () => {
  let sender: Sender;
  before(() => {
    sender = createSender();
  });
  after(async () => {
    await sender.destroy();
  });
  const post = (url: string, timeoutMs = 2000) => sender.send({url, headers: HEADERS, body: '{}', timeoutMs});

  test('a chunked answer that arrives in pieces, split inside sizes and data, is put back together', async () => {
    const server = await rawServer(() => ({
      pieces: ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n', '5\r\nhel', 'lo\r\n', '1', '0;ext=1\r\n0123456789', 'abcdef\r\n0\r\nX-Trailer: t\r\n\r\n'],
    }));
    try {
      const result = await post(`${server.url}/chunked`);
      assert.equal(result.kind, 'response');
      if (result.kind !== 'response') return;
      assert.equal(result.status, 200);
      assert.equal(result.body, 'hello0123456789abcdef');
      assert.equal(result.headers['x-a'], '1, 2');
      // Complete and clean: the connection is reused.
      await post(`${server.url}/again`);
      assert.equal(server.connections(), 1);
    } finally {
      await server.close();
    }
  });

  test('informational answers are skipped; the final one counts', async () => {
    const server = await rawServer(() => ({pieces: ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n', 'HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok']}));
    try {
      const result = await post(`${server.url}/x`);
      assert.equal(result.kind === 'response' && result.status, 202);
      assert.equal(result.kind === 'response' && result.body, 'ok');
      assert.equal(result.kind === 'response' && result.headers.link, undefined);
    } finally {
      await server.close();
    }
  });

  test('an answer without a length is read to the end of the connection, which is then not reused', async () => {
    const server = await rawServer(() => ({pieces: ['HTTP/1.1 200 OK\r\n\r\nuntil ', 'the end'], close: true}));
    try {
      const first = await post(`${server.url}/a`);
      assert.equal(first.kind === 'response' && first.body, 'until the end');
      const second = await post(`${server.url}/b`);
      assert.equal(second.kind === 'response' && second.body, 'until the end');
      assert.equal(server.connections(), 2);
    } finally {
      await server.close();
    }
  });

  test('Connection: close and HTTP/1.0 answers end their connection; a keep-alive one is reused', async () => {
    const server = await rawServer((seen) => {
      if (seen.head.startsWith('POST /close ')) return {pieces: ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n']};
      if (seen.head.startsWith('POST /old ')) return {pieces: ['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n']};
      return {pieces: ['HTTP/1.1 204 No Content\r\n\r\n']};
    });
    try {
      await post(`${server.url}/close`);
      await post(`${server.url}/keep`);
      await post(`${server.url}/keep`);
      await post(`${server.url}/old`);
      await post(`${server.url}/keep`);
      assert.deepEqual(
        server.seen.map((s) => s.connection),
        [1, 2, 2, 2, 3],
      );
    } finally {
      await server.close();
    }
  });

  // Answers after which the connection is not used again: both framings given (the chunks
  // count), and a Keep-Alive timeout too short to trust (the client keeps a second in hand).
  for (const [what, answer, body] of [
    ['both Transfer-Encoding and Content-Length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n2\r\nok\r\n0\r\n\r\n', 'ok'],
    ["a server's Keep-Alive timeout of 1 s", 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 0\r\n\r\n', ''],
  ] as const) {
    test(`an answer with ${what} is read, and its connection not used again`, async () => {
      const server = await rawServer(() => ({pieces: [answer]}));
      try {
        const first = await post(`${server.url}/a`);
        assert.equal(first.kind === 'response' && first.body, body);
        await post(`${server.url}/b`);
        assert.equal(server.connections(), 2);
      } finally {
        await server.close();
      }
    });
  }

  test('what goes on the wire: request line, Host, the headers as given, the body', async () => {
    const server = await rawServer(() => ({pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']}));
    try {
      await sender.send({url: `${server.url}/path/to?q=1&r=%20`, headers: {'Content-Type': 'application/json', 'X-Ghost-Signature': 'sha256=ab, t=1'}, body: '{"é":1}', timeoutMs: 2000});
      const [seen] = server.seen;
      const lines = seen!.head.split('\r\n');
      assert.equal(lines[0], 'POST /path/to?q=1&r=%20 HTTP/1.1');
      assert.ok(lines.includes(`Host: ${new URL(server.url).host}`), lines.join(' | '));
      assert.ok(lines.includes('X-Ghost-Signature: sha256=ab, t=1'));
      // The length is the body's bytes, not its characters.
      assert.ok(lines.includes('Content-Length: 8'), lines.join(' | '));
      assert.equal(seen!.body, '{"é":1}');
    } finally {
      await server.close();
    }
  });

  test('broken answers fail as BAD_RESPONSE, and their connection is dropped', async () => {
    const answers = ['SMTP ready\r\n\r\n', 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\n'];
    const server = await rawServer((_seen, n) => ({pieces: [answers[(n - 1) % answers.length]!]}));
    try {
      for (const answer of answers) {
        const result = await post(`${server.url}/x`);
        if (answer.includes('chunked')) {
          // The head was fine: the status stands, with what body arrived (none).
          assert.equal(result.kind === 'response' && result.status, 200, answer);
        } else {
          assert.equal(result.kind, 'error', answer);
          assert.equal(result.kind === 'error' && result.code, 'BAD_RESPONSE', answer);
        }
      }
      assert.equal(server.connections(), answers.length);
    } finally {
      await server.close();
    }
  });

  test('a connection closed before the answer is complete fails the attempt (no answer) or keeps the status', async () => {
    const server = await rawServer((seen) =>
      seen.head.startsWith('POST /nothing ') ? {pieces: [], close: true} : {pieces: ['HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\npartial'], close: true},
    );
    try {
      const nothing = await post(`${server.url}/nothing`);
      assert.equal(nothing.kind === 'error' && nothing.code, 'SOCKET_CLOSED');
      const partial = await post(`${server.url}/partial`);
      assert.equal(partial.kind === 'response' && partial.status, 500);
      assert.equal(partial.kind === 'response' && partial.body, 'partial');
    } finally {
      await server.close();
    }
  });

  test('a request HTTP cannot carry is refused before any connection', async () => {
    const server = await rawServer(() => ({pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']}));
    try {
      const injected = await sender.send({url: `${server.url}/x`, headers: {'X-Evil': 'a\r\nX-Injected: 1'}, body: '{}', timeoutMs: 1000});
      assert.equal(injected.kind === 'error' && injected.code, 'INVALID_REQUEST');
      const wrongLength = await sender.send({url: `${server.url}/x`, headers: {'Content-Length': '5'}, body: '{}', timeoutMs: 1000});
      assert.equal(wrongLength.kind === 'error' && wrongLength.code, 'INVALID_REQUEST');
      const badName = await sender.send({url: `${server.url}/x`, headers: {'Bad Name': 'x'}, body: '{}', timeoutMs: 1000});
      assert.equal(badName.kind === 'error' && badName.code, 'INVALID_REQUEST');
      const nonAscii = await sender.send({url: `${server.url}/x`, headers: {'X-Name': 'café'}, body: '{}', timeoutMs: 1000});
      assert.equal(nonAscii.kind === 'error' && nonAscii.code, 'INVALID_REQUEST');
      assert.equal(server.connections(), 0);
    } finally {
      await server.close();
    }
  });

  test('requestHead: Host with the port, Content-Length added when missing, hop-by-hop headers dropped', () => {
    const origin = {key: 'http://[::1]:8080', secure: false, host: '::1', port: 8080, hostHeader: '[::1]:8080', servername: undefined};
    const head = requestHead(origin, '/hook', {'Content-Type': 'application/json', Connection: 'upgrade', 'Transfer-Encoding': 'gzip'}, 12);
    assert.equal(typeof head, 'string');
    assert.equal(head, 'POST /hook HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n');
  });

  test('IPv6 literal targets connect to the address, with the bracketed Host', async (t) => {
    const server = net.createServer((socket) => {
      socket.once('data', (data) => {
        socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(/\r\nHost: ([^\r]+)/.exec(data.toString('latin1'))![1]!)}\r\n\r\n${/\r\nHost: ([^\r]+)/.exec(data.toString('latin1'))![1]}`);
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(0, '::1', () => resolve(true));
    });
    if (!listening) return void t.skip('no IPv6 loopback on this machine');
    try {
      const port = (server.address() as net.AddressInfo).port;
      const result = await post(`http://[::1]:${port}/x`);
      assert.equal(result.kind === 'response' && result.body, `[::1]:${port}`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('https: a certificate the system does not trust fails the attempt with its TLS error code', async (t) => {
    // A throwaway self-signed certificate, made here: the client refuses it before sending.
    const {execFileSync} = await import('node:child_process');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-tls-'));
    let key: string;
    let cert: string;
    try {
      execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path.join(dir, 'key.pem')], {stdio: 'ignore'});
      execFileSync('openssl', ['req', '-new', '-x509', '-key', path.join(dir, 'key.pem'), '-subj', '/CN=localhost', '-days', '1', '-out', path.join(dir, 'cert.pem')], {stdio: 'ignore'});
      key = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
      cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
    } catch {
      return void t.skip('no openssl here');
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
    const server = tls.createServer({key, cert}, (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const result = await post(`https://localhost:${port}/x`);
      assert.equal(result.kind, 'error');
      assert.equal(result.kind === 'error' && result.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
