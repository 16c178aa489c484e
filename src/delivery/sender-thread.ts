/**
 * The sender thread's entry point (see dispatcher.ts). It signs each attempt for the
 * instant the worker gave it and POSTs it over this thread's own sender (connection pools), then answers
 * with the headers it sent and the HttpResult. Messages are batched both ways: one message
 * carries every attempt the worker started in one turn, with each event's body once.
 */
import {parentPort, workerData} from 'node:worker_threads';
import type {HttpResult} from './outcome.ts';
import {signAndSend} from './dispatcher.ts';
import {createSender} from './sender.ts';
import {createGuardedLookup} from './ssrf.ts';

/** One attempt to make, as the worker sends it. */
export interface ThreadJob {
  /** Matches the answer to the waiting attempt. */
  readonly key: number;
  readonly deliveryId: string;
  readonly url: string;
  /** The key of the body in the message's `bodies`. */
  readonly bodyKey: string;
  readonly secret: string | null;
  readonly previousSecrets: string | null;
  /** The attempt's instant (the worker's clock), in ms: the signatures' timestamp. */
  readonly nowMs: number;
  readonly timeoutMs: number;
}

/** Worker → thread. */
export type ToThread = {readonly type: 'send'; readonly bodies: Record<string, string>; readonly jobs: readonly ThreadJob[]} | {readonly type: 'abort'} | {readonly type: 'close'};

/** Thread → worker: loaded and listening, or finished attempts. */
export type FromThread =
  | {readonly type: 'ready'}
  | {
      readonly type: 'done';
      /** `requestHeaders`: the headers sent, as JSON. */
      readonly results: readonly {key: number; requestHeaders: string; result: HttpResult}[];
    };

/** What the thread is started with. */
export interface SenderThreadData {
  /** Without it every name is resolved through the SSRF guard's vetting lookup. */
  readonly allowPrivateTargets: boolean;
}

if (parentPort) {
  const port = parentPort;
  const {allowPrivateTargets} = workerData as SenderThreadData;
  const sender = createSender(allowPrivateTargets ? {} : {lookup: createGuardedLookup()});
  let finished: Extract<FromThread, {type: 'done'}>['results'][number][] = [];
  let flushing = false;
  const flush = () => {
    flushing = false;
    const results = finished;
    finished = [];
    port.postMessage({type: 'done', results} satisfies FromThread);
  };

  port.on('message', (message: ToThread) => {
    if (message.type === 'abort') sender.abortAll();
    else if (message.type === 'close') void sender.close().finally(() => port.close());
    else {
      // Each event's body is encoded once per message: every attempt signs and sends the bytes.
      const encoded = new Map<string, Buffer>();
      for (const job of message.jobs) {
        let body = encoded.get(job.bodyKey);
        if (!body) encoded.set(job.bodyKey, (body = Buffer.from(message.bodies[job.bodyKey]!, 'utf8')));
        const input = {deliveryId: job.deliveryId, url: job.url, body, secret: job.secret, previousSecrets: job.previousSecrets, now: new Date(job.nowMs), timeoutMs: job.timeoutMs};
        void signAndSend(sender, input).then(({requestHeaders, result}) => {
          finished.push({key: job.key, requestHeaders, result});
          if (!flushing) {
            flushing = true;
            setImmediate(flush);
          }
        });
      }
    }
  });
  port.postMessage({type: 'ready'} satisfies FromThread);
}
