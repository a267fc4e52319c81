import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';

/** Order statistics of a sample of durations (milliseconds). */
export interface Summary {
  n: number;
  min: number;
  median: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** The `p`-th percentile (0–100) by nearest rank; `sorted` must be ascending. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    median: median(sorted),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.reduce((sum, v) => sum + v, 0) / (sorted.length || 1),
  };
}

/** Milliseconds, sub-millisecond resolution. */
export const now = () => performance.now();

/** Runs `fn` and returns how long it took (ms). */
export async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = now();
  await fn();
  return now() - start;
}

/**
 * Measures two variants in alternating blocks (A B B A A B …) after a warm-up of each, so drift and noise
 * on a shared machine hit both alike. Calls run one after another (latency, not throughput).
 */
export async function alternate(options: {
  a: () => Promise<unknown>;
  b: () => Promise<unknown>;
  iterations: number;
  warmup: number;
  block: number;
}): Promise<{ a: number[]; b: number[] }> {
  const { a, b, iterations, warmup, block } = options;
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const samples = { a: [] as number[], b: [] as number[] };
  const run = async (fn: () => Promise<unknown>, into: number[], count: number) => {
    for (let i = 0; i < count; i++) into.push(await time(fn));
  };
  for (let round = 0; samples.a.length < iterations; round++) {
    const count = Math.min(block, iterations - samples.a.length);
    if (round % 2 === 0) {
      await run(a, samples.a, count);
      await run(b, samples.b, count);
    } else {
      await run(b, samples.b, count);
      await run(a, samples.a, count);
    }
  }
  return samples;
}

/** Average microseconds per call of `fn`, called back to back (`calls` times after `warmup`). */
export async function microsPerCall(
  fn: () => Promise<unknown>,
  options: { calls: number; warmup: number }
): Promise<number> {
  for (let i = 0; i < options.warmup; i++) await fn();
  const start = now();
  for (let i = 0; i < options.calls; i++) await fn();
  return ((now() - start) * 1000) / options.calls;
}

/** One target of the issue: a measured value against a limit. */
export interface Check {
  benchmark: string;
  metric: string;
  value: number | string;
  target: string;
  ok: boolean;
  /** Why it missed, or what the number means. */
  note?: string;
}

export function machineInfo() {
  const cpu = cpus();
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  };
}

export const fmtMs = (ms: number) =>
  ms >= 10_000
    ? `${(ms / 1000).toFixed(1)} s`
    : ms >= 100
      ? `${ms.toFixed(0)} ms`
      : ms >= 10
        ? `${ms.toFixed(1)} ms`
        : ms >= 0.1
          ? `${ms.toFixed(2)} ms`
          : `${(ms * 1000).toFixed(1)} µs`;
export const fmtRatio = (r: number) => `${r.toFixed(2)}×`;
export const fmtKb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
export const fmtMb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
export const fmtInt = (n: number) => n.toLocaleString('en-US');
export const round = (value: number, digits = 3) => Number(value.toFixed(digits));

/** A plain text table with a header rule; columns sized to content. */
export function table(header: string[], rows: string[][]): string {
  const width = (s: string) => [...s].length;
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells.map((c, i) => c + ' '.repeat((widths[i] as number) - width(c))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Median/p90/p99/mean of a measured path and its baseline, with their ratio row. */
export function latencyTable(
  measured: [label: string, summary: Summary],
  baseline: [label: string, summary: Summary],
  ratio: { median: number; p99: number }
): string {
  const row = ([label, s]: [string, Summary]) => [
    label,
    fmtMs(s.median),
    fmtMs(s.p90),
    fmtMs(s.p99),
    fmtMs(s.mean),
  ];
  return table(
    ['', 'median', 'p90', 'p99', 'mean'],
    [row(measured), row(baseline), ['ratio', fmtRatio(ratio.median), '', fmtRatio(ratio.p99), '']]
  );
}
