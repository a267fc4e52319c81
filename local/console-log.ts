import { type Log, type LogFields, type Metrics, redactFields } from '../shared/log';

/**
 * Compact, human-readable console logging for the sandbox (`npm start`), behind the same `Log` and `Metrics`
 * ports the Lambdas back with Powertools. One line per entry:
 *
 *     14:03:07.412 INFO  component_verify_ticket stored createTime=1718000000
 *
 * Fields go through `redactFields()` first, as in AWS: a string is printed only when it is of its field's
 * declared kind (shared/log.ts), so no credential reaches the terminal, whatever its field is called.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface ConsoleSink {
  /** debug and info lines */
  out(line: string): void;
  /** warn and error lines */
  err(line: string): void;
}

export const processSink: ConsoleSink = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

const BARE = /^[\w.:@/+,|-]+$/;

/** `key=value` pairs: undefined and empty values left out, values with spaces or quotes JSON-quoted. */
export function formatFields(fields: LogFields | undefined): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(fields ?? {})) {
    if (value === undefined || value === '') continue;
    const text = typeof value === 'string' && !BARE.test(value) ? JSON.stringify(value) : value;
    parts.push(`${name}=${text}`);
  }
  return parts.join(' ');
}

const two = (n: number) => String(n).padStart(2, '0');

/** Local wall-clock time, `HH:MM:SS.mmm`. */
export function timeOfDay(epochMs: number): string {
  const d = new Date(epochMs);
  const ms = String(d.getMilliseconds()).padStart(3, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${ms}`;
}

export interface ConsoleLogOptions {
  /** Lowest level written (default `info`). */
  level?: LogLevel;
  sink?: ConsoleSink;
  /** For the timestamp; default `Date.now`. */
  clock?: () => number;
}

/** A `Log` writing one redacted line per entry. */
export function consoleLog(options: ConsoleLogOptions = {}): Log {
  const sink = options.sink ?? processSink;
  const clock = options.clock ?? Date.now;
  const threshold = LOG_LEVELS.indexOf(options.level ?? 'info');
  const write = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    const rest = formatFields(redactFields(fields));
    const line = `${timeOfDay(clock())} ${level.toUpperCase().padEnd(5)} ${message}${rest ? ` ${rest}` : ''}`;
    if (level === 'warn' || level === 'error') sink.err(line);
    else sink.out(line);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** `Metrics` written as debug lines of `log` (visible with `LOG_LEVEL=debug`); nothing is published. */
export function consoleMetrics(log: Log): Metrics {
  return {
    count: (name, value = 1, errorCode, api) =>
      log.debug(`metric ${name} +${value}`, { errorCode, route: api }),
    gauge: (name, value, unit) => log.debug(`metric ${name} = ${value} ${unit}`),
  };
}
