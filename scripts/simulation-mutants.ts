/**
 * `npm run simulate:mutants`: reverts each fix the simulation exists to guard (one at a time, in a copy of
 * the tree) and checks that a seed then fails, naming the expected invariant. A mutant that survives means
 * the simulation no longer proves that fix. Fixes the simulation cannot reach (a lease running out while
 * its holder still calls WeChat needs time to pass inside a step, which the simulation's clock does not)
 * are checked by their focused test instead. The simulation stops at the first failing seed (`--bail`); a
 * mutant may run fewer days or other seeds than the default when those already kill it.
 *
 * The unmutated tree is run first on the same days and seeds (`--no-baseline` skips it): when it fails
 * too, a mutant's failure proves nothing and the run stops.
 *
 * Usage: npm run simulate:mutants [-- --days 8 --seeds 1-3 --only <name> --no-baseline]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MUTANTS, type Mutant } from './mutants';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function option(argv: readonly string[], name: string, fallback: string): string {
  const index = argv.indexOf(name);
  return index >= 0 ? (argv[index + 1] ?? fallback) : fallback;
}

/** A copy of the tracked (and new, not ignored) files, sharing the real node_modules. */
function copyTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mutant-'));
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
  for (const file of files) {
    let content: Buffer;
    try {
      content = readFileSync(join(root, file));
    } catch {
      continue;
    }
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), content);
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function apply(dir: string, mutant: Mutant): void {
  for (const edit of mutant.edits) {
    const path = join(dir, edit.file);
    const text = readFileSync(path, 'utf8');
    if (!text.includes(edit.find)) {
      throw new Error(
        `mutant "${mutant.name}": ${edit.file} no longer contains the code it reverts`
      );
    }
    writeFileSync(path, text.replace(edit.find, edit.replace));
  }
}

function run(
  dir: string,
  mutant: Mutant,
  days: string,
  seeds: string
): { killed: boolean; note: string; seconds: number } {
  const started = performance.now();
  const result = runOnce(dir, mutant, mutant.days ?? days, mutant.seeds ?? seeds);
  return { ...result, seconds: Math.round((performance.now() - started) / 1000) };
}

function runOnce(
  dir: string,
  mutant: Mutant,
  days: string,
  seeds: string
): { killed: boolean; note: string } {
  if ('test' in mutant.expect) {
    const result = spawnSync('npx', ['vitest', 'run', mutant.expect.test], {
      cwd: dir,
      encoding: 'utf8',
    });
    return {
      killed: result.status !== 0,
      note:
        result.status !== 0 ? `${mutant.expect.test} fails` : `${mutant.expect.test} still passes`,
    };
  }
  const result = spawnSync(
    'node',
    [
      '--import',
      'tsx',
      'local/simulation/cli.ts',
      '--days',
      days,
      '--seeds',
      seeds,
      '--quiet',
      '--bail',
    ],
    {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    }
  );
  const failed = /^FAILED (.*)$/m.exec(result.stderr)?.[1];
  const expected = [mutant.expect.invariant].flat().map((name) => `"${name}"`);
  return {
    killed: result.status === 1 && expected.some((name) => failed?.includes(name)),
    note: failed ?? `no seed failed (exit ${result.status})`,
  };
}

/**
 * The unmutated tree on the same days and seeds: a mutant is "killed" only when the tree without it passes
 * there, else the failure says nothing about the mutant.
 */
function baseline(days: string, seeds: string): { passed: boolean; note: string } {
  const dir = copyTree();
  try {
    const result = spawnSync(
      'node',
      ['--import', 'tsx', 'local/simulation/cli.ts', '--days', days, '--seeds', seeds, '--quiet'],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      }
    );
    const failures = result.stderr.split('\n').filter((line) => line.startsWith('FAILED '));
    return {
      passed: result.status === 0,
      note: failures.join('\n  ') || `exit ${result.status}`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(argv: readonly string[]): number {
  const days = option(argv, '--days', '8');
  const seeds = option(argv, '--seeds', '1-3');
  const only = option(argv, '--only', '');
  const selected = MUTANTS.filter((m) => !only || m.name.includes(only));
  if (!argv.includes('--no-baseline')) {
    const runs = new Set(
      selected
        .filter((m) => 'invariant' in m.expect)
        .map((m) => `${m.days ?? days}|${m.seeds ?? seeds}`)
    );
    for (const run of runs) {
      const [d, s] = run.split('|') as [string, string];
      const started = performance.now();
      const { passed, note } = baseline(d, s);
      const seconds = Math.round((performance.now() - started) / 1000);
      if (!passed) {
        console.log(
          `baseline FAILED (${d} days, seeds ${s}, ${seconds} s): the unmutated tree does not pass;`
        );
        console.log(`  ${note}`);
        console.log('mutant verdicts would mean nothing (--no-baseline runs them anyway)');
        return 1;
      }
      console.log(`baseline passed: ${d} days, seeds ${s} (${seconds} s)`);
    }
  }
  let survived = 0;
  for (const mutant of selected) {
    const dir = copyTree();
    try {
      apply(dir, mutant);
      const { killed, note, seconds } = run(dir, mutant, days, seeds);
      if (!killed) survived += 1;
      console.log(`${killed ? 'killed  ' : 'SURVIVED'}  ${mutant.name}: ${note} (${seconds} s)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(survived ? `${survived} mutant(s) survived` : 'every mutant was killed');
  return survived ? 1 : 0;
}

process.exit(main(process.argv.slice(2)));
