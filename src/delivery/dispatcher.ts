/**
 * Makes the HTTP attempt of one delivery: signs it for the attempt's instant and sends it.
 * Two implementations of one port:
 *
 * - in-process: over a Sender on the worker's own thread (used when the caller brings its own
 *   sender or DNS lookup, which cannot cross to another thread);
 * - a sender thread (the default of `herald serve`): signing, HTTP and the socket writes run
 *   on a second thread, so the worker's thread only claims and records. Under load the two
 *   halves cost about the same, and a serving process could otherwise use one core only.
 *
 * Either way, no transaction is open while an attempt runs (the worker's rule), and an
 * attempt never throws: every one ends as an HttpResult.
 */
import {Worker} from 'node:worker_threads';
import type {HttpResult} from './outcome.ts';
import {attemptHeaders} from './request.ts';
import type {Sender} from './sender.ts';
import type {SignedBody} from './signing.ts';
import type {FromThread, SenderThreadData, ThreadJob, ToThread} from './sender-thread.ts';

/** One attempt to make. */
export interface DispatchInput {
  readonly deliveryId: string;
  readonly url: string;
  /** The exact body; `bodyKey` names it (the event id), so a batch carries each body once. */
  readonly body: string;
  readonly bodyKey: string;
  readonly secret: string | null;
  readonly previousSecrets: string | null;
  /** The attempt's instant: the signatures' timestamp. */
  readonly now: Date;
  readonly timeoutMs: number;
}

/** What an attempt sent and what came of it. */
export interface Dispatched {
  /** The request headers sent, as JSON (what the delivery log stores). */
  readonly requestHeaders: string;
  readonly result: HttpResult;
}

/**
 * Hears how an attempt ended, with the context it was started with. One function per
 * dispatcher, not a callback or promise per attempt: a long-lived table of per-attempt
 * closures (resolve functions) cost the garbage collector more per attempt than all the rest
 * of the bookkeeping; a table of plain context objects costs next to nothing.
 */
export type OnDispatched<C> = (context: C, dispatched: Dispatched) => void;

/** Makes attempts. */
export interface Dispatcher<C> {
  /** Resolves once attempts can start without delay (the sender thread has loaded). */
  readonly ready: Promise<void>;
  /** Starts an attempt; the dispatcher's OnDispatched hears how it ended (always later, never now). */
  dispatch(input: DispatchInput, context: C): void;
  /** Fails every running attempt at once with the error code `ABORTED` (shutdown past its grace). */
  abortAll(): void;
  /** Lets running attempts finish, then closes every connection (and the thread). */
  close(): Promise<void>;
}

/**
 * One attempt, as both dispatchers make it: signed for its instant, sent, and the headers
 * sent kept as the delivery log stores them. `body` may be the payload's UTF-8 bytes.
 */
export async function signAndSend(sender: Sender, input: Omit<DispatchInput, 'body' | 'bodyKey'> & {readonly body: SignedBody}): Promise<Dispatched> {
  const headers = attemptHeaders(input);
  const result = await sender.send({url: input.url, headers, body: input.body, timeoutMs: input.timeoutMs});
  return {requestHeaders: JSON.stringify(headers), result};
}

/** Attempts on this thread, over `sender`. */
export function inProcessDispatcher<C>(sender: Sender, onDone: OnDispatched<C>): Dispatcher<C> {
  return {
    ready: Promise.resolve(),
    dispatch(input, context) {
      void signAndSend(sender, input).then((dispatched) => onDone(context, dispatched));
    },
    abortAll: () => sender.abortAll(),
    close: () => sender.close(),
  };
}

/** How the sender thread is started. */
export interface ThreadDispatcherOptions extends SenderThreadData {
  /** Hears about a sender thread that died (its running attempts fail; the next attempt starts a new one). */
  readonly onThreadError?: (message: string) => void;
}

/** Attempts on a sender thread, started at once (and again after it died, on the next attempt). */
export function threadDispatcher<C>(options: ThreadDispatcherOptions, onDone: OnDispatched<C>): Dispatcher<C> {
  /** The context of every attempt on the thread, by key. */
  const waiting = new Map<number, C>();
  let thread: Worker | null = null;
  let nextKey = 0;
  /** Attempts started in this turn of the event loop, posted together. */
  let outgoing: {bodies: Record<string, string>; jobs: ThreadJob[]} | null = null;
  let closed: Promise<void> | null = null;
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));

  const start = (): Worker => {
    const [file, how] = entry();
    const worker = new Worker(file, {
      ...how,
      workerData: {allowPrivateTargets: options.allowPrivateTargets} satisfies SenderThreadData,
      execArgv: profilerFlags(process.execArgv),
      // Its heap holds the attempts in flight and their answers (at most 16 KiB each).
      resourceLimits: {maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 16},
    });
    worker.unref(); // ref'd only while attempts run (see dispatch)
    worker.on('message', (message: FromThread) => {
      if (message.type === 'ready') {
        onReady();
        return;
      }
      for (const {key, requestHeaders, result} of message.results) {
        const context = waiting.get(key);
        if (!waiting.delete(key)) continue;
        onDone(context!, {requestHeaders, result});
      }
      if (waiting.size === 0) worker.unref();
    });
    const fail = (reason: string) => {
      onReady(); // nobody waits for a thread that will not come
      if (thread !== worker) return;
      thread = null;
      if (!closed) options.onThreadError?.(reason);
      // Its attempts never finished: they fail (and are retried on the schedule).
      const result: HttpResult = {kind: 'error', code: 'SENDER_THREAD', message: `the sender thread stopped: ${reason}`, durationMs: 0};
      const lost = [...waiting.values()];
      waiting.clear();
      for (const context of lost) onDone(context, {requestHeaders: '{}', result});
    };
    worker.on('error', (error) => fail(error.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    return worker;
  };

  const flush = () => {
    const batch = outgoing;
    if (!batch) return;
    outgoing = null;
    thread ??= start();
    thread.ref();
    thread.postMessage({type: 'send', bodies: batch.bodies, jobs: batch.jobs} satisfies ToThread);
  };

  // Started now, not on the first attempt: loading the thread takes a moment (far longer from
  // source), which would otherwise delay the first delivery after a start.
  thread = start();

  return {
    ready,
    dispatch(input, context) {
      if (closed) {
        queueMicrotask(() => onDone(context, {requestHeaders: '{}', result: {kind: 'error', code: 'ABORTED', message: 'the sender is closed', durationMs: 0}}));
        return;
      }
      const key = nextKey++;
      waiting.set(key, context);
      if (!outgoing) {
        outgoing = {bodies: {}, jobs: []};
        queueMicrotask(flush);
      }
      outgoing.bodies[input.bodyKey] ??= input.body;
      outgoing.jobs.push({
        key,
        deliveryId: input.deliveryId,
        url: input.url,
        bodyKey: input.bodyKey,
        secret: input.secret,
        previousSecrets: input.previousSecrets,
        nowMs: input.now.getTime(),
        timeoutMs: input.timeoutMs,
      });
    },
    abortAll() {
      thread?.postMessage({type: 'abort'} satisfies ToThread);
    },
    close() {
      closed ??= (async () => {
        if (outgoing) flush(); // attempts started in this turn go out before the close
        const worker = thread;
        if (!worker) return;
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        worker.postMessage({type: 'close'} satisfies ToThread);
        const timer = setTimeout(() => void worker.terminate(), 5000);
        await exited;
        clearTimeout(timer);
      })();
      return closed;
    },
  };
}

/**
 * The CPU profiler flags of this process (`--cpu-prof`, `--cpu-prof-dir DIR`, …), for the
 * thread: a profiled process (`HERALD_BENCH_PROFILE`) gets its sender thread's profile too.
 * No other flag is passed on (the thread runs with Node's defaults).
 */
export function profilerFlags(execArgv: readonly string[]): string[] {
  const flags: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!;
    if (!flag.startsWith('--cpu-prof')) continue;
    flags.push(flag);
    // A flag that takes a value, given as the next argument.
    if (!flag.includes('=') && flag !== '--cpu-prof' && i + 1 < execArgv.length) flags.push(execArgv[++i]!);
  }
  return flags;
}

/**
 * The thread's module: the bundle's sibling when running from dist/. Running from source, a
 * small script registers tsx in the thread first and then loads the TypeScript module (a
 * loader flag given to a thread does not take effect for its own entry point on Node 20).
 */
function entry(): [string | URL, {eval?: boolean}] {
  if (!import.meta.url.endsWith('.ts')) return [new URL('./sender-thread.mjs', import.meta.url), {}];
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const module = JSON.stringify(new URL('./sender-thread.ts', import.meta.url).href);
  return [`import(${api}).then((tsx) => { tsx.register(); return import(${module}); });`, {eval: true}];
}
