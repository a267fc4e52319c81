import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { SimulationFailure, type SimulationReport, simulate } from './simulate';

/**
 * `npm run simulate -- --days 30 --seed 7` (or `--seeds 1,2,3`, or `--seeds 1-20`): runs the simulation for
 * each seed, prints one line per seed and the totals; on a broken invariant prints the seed, the step and the
 * invariant, and how to replay it, and exits 1.
 */
export function parseArgs(argv: readonly string[]): {
  days: number;
  seeds: number[];
  quiet: boolean;
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
  if (!Number.isInteger(days) || days < 1 || seeds.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new Error(
      'usage: npm run simulate -- --days <n ≥ 1> (--seed <n> | --seeds 1,2,3 | --seeds 1-20)'
    );
  }
  return { days, seeds, quiet: argv.includes('--quiet') };
}

function line(r: SimulationReport): string {
  return `seed ${r.seed}: ${r.days} days, ${r.merchants} merchants, ${r.tokensServed} tokens served, 0 early deaths, 0 authorizers lost, ${r.authorizerCallsPerTokenDay} api_authorizer_token calls per token-day, ${r.componentCallsPerDay} api_component_token calls per day, ${r.faultsInjected} faults, ${r.pushesAnswered} pushes answered success, ${r.forgedPushesRefused} forged pushes refused`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const { days, seeds, quiet } = parseArgs(argv);
  const verbose = argv.includes('--trace');
  const reports: SimulationReport[] = [];
  const failures: SimulationFailure[] = [];
  for (const seed of seeds) {
    const started = performance.now();
    try {
      const report = await simulate({
        seed,
        days,
        progress: quiet ? undefined : (text) => process.stderr.write(`${text}\n`),
      });
      reports.push(report);
      console.log(`${line(report)} (${Math.round((performance.now() - started) / 1000)} s)`);
    } catch (error) {
      if (!(error instanceof SimulationFailure)) throw error;
      failures.push(error);
      console.error(`FAILED ${error.message}`);
      if (verbose) console.error(error.trace.map((l) => `  ${l}`).join('\n'));
      console.error(`replay: npm run simulate -- --days ${days} --seed ${seed}`);
    }
  }
  const served = reports.reduce((sum, r) => sum + r.tokensServed, 0);
  const perTokenDay = reports.map((r) => r.authorizerCallsPerTokenDay);
  console.log(
    `${reports.length} of ${seeds.length} seeds × ${days} days passed: ${served} tokens served, 0 early deaths, 0 authorizers lost, ${Math.min(...perTokenDay)}–${Math.max(...perTokenDay)} api_authorizer_token calls per token-day`
  );
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
