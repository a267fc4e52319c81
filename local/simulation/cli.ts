import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ALL_PAIRS, SimulationFailure, type SimulationReport, simulate } from './simulate';

/**
 * `npm run simulate -- --days 30 --seed 7` (or `--seeds 1,2,3`, or `--seeds 1-20`): runs the simulation for
 * each seed, prints one line per seed, the totals and the interleavings exercised; on a broken invariant
 * prints the seed, the step and the invariant, and how to replay it, and exits 1 (`--bail`: without running
 * the remaining seeds). `--skew 90` runs WeChat's clock 90 seconds ahead of the service's (negative: behind).
 */
export function parseArgs(argv: readonly string[]): {
  days: number;
  seeds: number[];
  quiet: boolean;
  bail: boolean;
  clockSkewMs: number;
} {
  const value = (name: string) => {
    const index = argv.indexOf(name);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const days = Number(value('--days') ?? 30);
  const seedsArg = value('--seeds') ?? value('--seed') ?? '1';
  const seeds = seedsArg.split(',').flatMap((part) => {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (!range) return [Number(part)];
    const [from, to] = [Number(range[1]), Number(range[2])];
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
  const skew = Number(value('--skew') ?? 0);
  if (
    !Number.isInteger(days) ||
    days < 1 ||
    seeds.some((s) => !Number.isInteger(s) || s < 0) ||
    !Number.isInteger(skew)
  ) {
    throw new Error(
      'usage: npm run simulate -- --days <n ≥ 1> (--seed <n> | --seeds 1,2,3 | --seeds 1-20) [--skew <seconds WeChat is ahead, negative: behind>]'
    );
  }
  return {
    days,
    seeds,
    quiet: argv.includes('--quiet'),
    bail: argv.includes('--bail'),
    clockSkewMs: skew * 1000,
  };
}

function line(r: SimulationReport): string {
  return `seed ${r.seed}: ${r.days} days, ${r.merchants} merchants, ${r.tokensServed} tokens served, 0 early deaths, 0 authorizers lost, ${r.authorizerCallsPerTokenDay} api_authorizer_token calls per token-day, ${r.componentCallsPerDay} api_component_token calls per day, ${r.faultsInjected} faults, ${r.pushesAnswered} pushes answered success, ${r.forgedPushesRefused} forged pushes refused, ${r.interleavings.steps} interleaved steps${r.starvedAnswers ? `, ${r.starvedAnswers} late answers discarded (the process starved of CPU)` : ''}`;
}

/**
 * The interleaved steps of the runs: how many, and for each pair of actor kinds how many steps had them
 * overlap, in all and per simulated day; the pairs that never overlapped are named.
 */
export function interleavingSummary(reports: readonly SimulationReport[]): string {
  const totalDays = reports.reduce((sum, r) => sum + r.days, 0);
  const steps = reports.reduce((sum, r) => sum + r.interleavings.steps, 0);
  const pairs = new Map<string, number>();
  for (const r of reports) {
    for (const [pair, n] of Object.entries(r.interleavings.pairs)) {
      pairs.set(pair, (pairs.get(pair) ?? 0) + n);
    }
  }
  const perDay = (n: number) => (totalDays ? Math.round((n / totalDays) * 10) / 10 : 0);
  const seen = ALL_PAIRS.filter((pair) => pairs.has(pair));
  const missing = ALL_PAIRS.filter((pair) => !pairs.has(pair));
  const lines = [
    `interleaved steps: ${steps} (${perDay(steps)} per day); ${seen.length} of ${ALL_PAIRS.length} pairs of actors overlapped (steps in all, per day):`,
  ];
  const cells = seen.map((pair) => `${pair} ${pairs.get(pair)} (${perDay(pairs.get(pair) ?? 0)})`);
  for (let i = 0; i < cells.length; i += 4) lines.push(`  ${cells.slice(i, i + 4).join(', ')}`);
  if (missing.length) lines.push(`  never overlapped: ${missing.join(', ')}`);
  return lines.join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const { days, seeds, quiet, bail, clockSkewMs } = parseArgs(argv);
  const reports: SimulationReport[] = [];
  const failures: SimulationFailure[] = [];
  for (const seed of seeds) {
    const started = performance.now();
    try {
      const report = await simulate({
        seed,
        days,
        clockSkewMs,
        progress: quiet ? undefined : (text) => process.stderr.write(`${text}\n`),
      });
      reports.push(report);
      console.log(`${line(report)} (${Math.round((performance.now() - started) / 1000)} s)`);
    } catch (error) {
      if (!(error instanceof SimulationFailure)) throw error;
      failures.push(error);
      console.error(`FAILED ${error.message}`);
      // Always: a run on a loaded host may not fail again on replay (its real-time deadlines differ).
      console.error(error.trace.map((l) => `  ${l}`).join('\n'));
      console.error(`replay: npm run simulate -- --days ${days} --seed ${seed}`);
      if (bail) break;
    }
  }
  const served = reports.reduce((sum, r) => sum + r.tokensServed, 0);
  const perTokenDay = reports.map((r) => r.authorizerCallsPerTokenDay);
  const cadence = perTokenDay.length
    ? `, ${Math.min(...perTokenDay)}–${Math.max(...perTokenDay)} api_authorizer_token calls per token-day`
    : '';
  console.log(
    `${reports.length} of ${seeds.length} seeds × ${days} days passed: ${served} tokens served, 0 early deaths, 0 authorizers lost${cadence}`
  );
  if (reports.length) console.log(interleavingSummary(reports));
  return failures.length ? 1 : 0;
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(2);
    }
  );
}
