/**
 * WAL checkpoints on a background thread (SQLite only).
 *
 * With `synchronous = NORMAL`, a commit in WAL mode only appends to the WAL file; the fsyncs
 * happen when a checkpoint copies the WAL back into the database. SQLite runs that checkpoint
 * inside whichever commit crosses `wal_autocheckpoint`, on the caller's thread, so under load
 * a serving process spent a large share of its time blocked in fsync (about 20 µs per
 * delivery on this project's benchmark machine). `herald serve` turns the automatic checkpoint
 * off on its connection and lets this thread, with a connection of its own, run PASSIVE
 * checkpoints instead: they never block the writer and never wait for readers.
 *
 * The thread is a few lines of plain JavaScript (evaluated, so the bundle needs no second
 * entry point); better-sqlite3 is passed in by its resolved path.
 */
import {createRequire} from 'node:module';
import {Worker} from 'node:worker_threads';

/** A running checkpoint thread. */
export interface Checkpointer {
  /** Stops the thread after a last checkpoint; resolves once its connection is closed. */
  close(): Promise<void>;
}

/** How the thread runs. */
export interface CheckpointerOptions {
  /** How often a checkpoint runs, in ms. Default 200. One with nothing new to copy costs next to nothing. */
  readonly intervalMs?: number;
}

// Runs in the thread.
const THREAD_SOURCE = `
const {parentPort, workerData} = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({type: 'error', message: String((error && error.message) || error)});
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  try { db.close(); } catch {}
  parentPort.close();
});
`;

/**
 * Starts the checkpoint thread for the database file `file`. The caller's connection must set
 * `wal_autocheckpoint = 0` itself. `onError` hears about checkpoints that failed (the next
 * interval tries again; SQLite's own checkpoint at close still runs).
 */
export function startCheckpointer(file: string, onError: (message: string) => void, options: CheckpointerOptions = {}): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: {file, driver, intervalMs: options.intervalMs ?? 200},
    // The thread needs none of the parent's loaders (tsx) or flags.
    execArgv: [],
  });
  // It must never keep the process alive on its own.
  worker.unref();
  let closing: Promise<void> | null = null;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (message: {type: string; message?: string}) => {
    if (message.type === 'error') onError(message.message ?? 'unknown error');
  });
  worker.on('error', (error) => onError(error.message));
  return {
    close() {
      closing ??= (async () => {
        worker.postMessage('close');
        const timer = setTimeout(() => void worker.terminate(), 5000);
        await exited;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
