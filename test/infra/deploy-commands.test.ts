import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTEXT_KEYS, parseStackConfig, StackConfigError } from '../../infra/config';
import { documentedCdkCommands, documentedContextKeys } from '../support/docs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The documented command lines that need no AWS account: they only run the app. */
const OFFLINE = /^npx cdk (synth|ls)\b/;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one documented command line from the repository root as an operator would, with the settings file of the
 * test; `--output` keeps the assembly out of the shared `cdk.out`, and notices, telemetry and the version
 * check stay off (no network).
 */
function runCdk(line: string, contextFile: string, outdir: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', `${line} --output ${outdir} --no-notices`],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          DEPLOY_CONTEXT_FILE: contextFile,
          CDK_DISABLE_CLI_TELEMETRY: 'true',
          CDK_DISABLE_VERSION_CHECK: 'true',
        },
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
    );
  });
}

const misspell = (key: string) => (key.toLowerCase() === key ? `${key}x` : key.toLowerCase());

describe("the deploy guide's commands and settings", () => {
  const documented = documentedContextKeys();
  const commands = documentedCdkCommands();
  let dir: string;
  let contextFile: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'deploy-commands-'));
    contextFile = join(dir, 'deploy.context.json');
    writeFileSync(
      contextFile,
      JSON.stringify(Object.fromEntries(documented.map(({ key, example }) => [key, example])))
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('documents exactly the context keys the app reads, each with an example', () => {
    expect(documented.map((d) => d.key)).toEqual([...CONTEXT_KEYS]);
    for (const { key, example } of documented) expect(example, key).not.toBe('');
  });

  it('accepts every documented example value together', () => {
    const context = Object.fromEntries(documented.map(({ key, example }) => [key, example]));
    expect(() => parseStackConfig(context)).not.toThrow();
  });

  it('refuses a misspelling of each documented key, by name', () => {
    const context = Object.fromEntries(documented.map(({ key, example }) => [key, example]));
    for (const { key, example } of documented) {
      const wrong = misspell(key);
      let problems: readonly string[] = [];
      try {
        parseStackConfig({ ...context, [wrong]: example });
      } catch (error) {
        if (!(error instanceof StackConfigError)) throw error;
        problems = error.problems;
      }
      expect(problems, key).toEqual([
        expect.stringContaining(`unknown context key "${wrong}" (did you mean ${key}?)`),
      ]);
    }
  });

  it('shows bootstrap, synth, diff, deploy and destroy, all taking the settings from the file', () => {
    for (const verb of ['bootstrap', 'synth', 'ls', 'diff', 'deploy', 'destroy']) {
      expect(
        commands.some((c) => c.startsWith(`npx cdk ${verb}`)),
        verb
      ).toBe(true);
    }
    for (const command of commands) expect(command, command).not.toMatch(/ -c /);
  });

  it('runs the offline command lines with every documented key set', async () => {
    const offline = commands.filter((c) => OFFLINE.test(c));
    expect(offline.length).toBeGreaterThanOrEqual(2);
    for (const line of offline) {
      const outdir = join(dir, `out-${offline.indexOf(line)}`);
      const run = await runCdk(line, contextFile, outdir);
      expect(run.code, `${line}\n${run.stderr}`).toBe(0);
      const stage = documented.find((d) => d.key === 'stage')!.example;
      if (line.startsWith('npx cdk ls')) {
        expect(run.stdout.trim()).toBe(`WeChatTokenService-${stage}`);
      } else {
        const template = join(outdir, `WeChatTokenService-${stage}.template.json`);
        expect(existsSync(template), template).toBe(true);
        const outputs = JSON.parse(readFileSync(template, 'utf8')).Outputs;
        expect(outputs.AuthorizeDomain.Value).toBe(
          documented.find((d) => d.key === 'authorizeDomain')!.example
        );
      }
    }
  }, 240_000);

  it('refuses a misspelled key on the command line, naming it, before building anything', async () => {
    const run = await runCdk(
      'npx cdk synth -c alarmemail=ops@example.com',
      contextFile,
      join(dir, 'out-misspelled')
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('unknown context key "alarmemail" (did you mean alarmEmail?)');
    expect(run.stderr).not.toContain('Bundling asset');
  }, 120_000);
});
