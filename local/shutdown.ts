import type { ConsoleSink } from './console-log';

/**
 * Copies of the first stop signal arriving this soon after it are the same Ctrl-C relayed again, not a
 * second press: the terminal signals the whole process group, and `npm` and `tsx` each forward the signal
 * to their child as well (tsx once more 30 ms later when the child has not acknowledged it).
 */
export const DUPLICATE_SIGNAL_WINDOW_MS = 1_000;
/** A stop that has not finished by then exits 1 anyway. */
export const STOP_WATCHDOG_MS = 10_000;

export interface StopOnSignalOptions {
  /** Stops everything; resolved = clean stop. */
  close(): Promise<void>;
  sink: ConsoleSink;
  exit(code: number): void;
  /** Monotonic milliseconds; default `performance.now`. */
  now?: () => number;
  /** Schedules the watchdog; default an unref'ed `setTimeout`. */
  schedule?: (run: () => void, ms: number) => void;
}

/**
 * The handler for SIGINT and SIGTERM: the first one stops cleanly and exits 0 (1 if stopping fails or
 * outlasts {@link STOP_WATCHDOG_MS}). The same signal again within {@link DUPLICATE_SIGNAL_WINDOW_MS} is
 * ignored as a relayed copy; any signal after that, or a different one, is a second request and exits 1 at
 * once.
 *
 * @see https://nodejs.org/docs/latest-v20.x/api/process.html#signal-events
 */
export function stopOnSignal(options: StopOnSignalOptions): (signal: NodeJS.Signals) => void {
  const { sink, exit } = options;
  const now = options.now ?? (() => performance.now());
  const schedule =
    options.schedule ?? ((run: () => void, ms: number) => void setTimeout(run, ms).unref());
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  return (signal) => {
    if (first) {
      if (signal === first.signal && now() - first.at < DUPLICATE_SIGNAL_WINDOW_MS) return;
      sink.err(`sandbox: ${signal} again, exiting without waiting`);
      exit(1);
      return;
    }
    first = { signal, at: now() };
    sink.out(`sandbox: ${signal} received, stopping`);
    schedule(() => {
      sink.err(`sandbox: did not stop within ${STOP_WATCHDOG_MS / 1000} s, exiting`);
      exit(1);
    }, STOP_WATCHDOG_MS);
    options.close().then(
      () => {
        sink.out('sandbox: stopped');
        exit(0);
      },
      (error: unknown) => {
        sink.err(`sandbox: stopping failed: ${(error as Error).name}`);
        exit(1);
      }
    );
  };
}
