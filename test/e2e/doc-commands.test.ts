/**
 * Every command the README and the guides in `docs/` show, accounted for: the ones that can run here are run
 * as written against a fresh `npm start` (only the sandbox's and the simulator's ports put in), each
 * document in its own sandbox, in the document's order; the others name the test that runs them or what they
 * need that this machine lacks. A command nobody classified fails the test, so a new one cannot slip in
 * untested.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkAuthorization } from '../support/browser';
import { documents, inlineCurlCommands, readDoc, shellCommands } from '../support/docs';
import { freePort, ROOT, type SandboxProcess, spawnSandbox } from './sandbox-process';

const READY = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m;
/** The merchant the documents use, the one the simulator's authorization page offers. */
const MERCHANT = 'wx1234567890abcdef';

type Rule =
  | { match: RegExp; run: 'sandbox' | 'scratch' }
  | { match: RegExp; runBy: string; mentions: string }
  | { match: RegExp; needs: string };

const RULES: readonly Rule[] = [
  {
    match: /^curl -s (-X POST )?"?(http:\/\/)?127\.0\.0\.1:(3000|<simulator port>)\//,
    run: 'sandbox',
  },
  { match: /^npx wechat-token \w+ --endpoint-url http:\/\/127\.0\.0\.1:3000$/, run: 'sandbox' },
  { match: /^export AWS_ENDPOINT_URL_LAMBDA=http:\/\/127\.0\.0\.1:3000 /, run: 'sandbox' },
  { match: /^aws lambda invoke --function-name get-token /, run: 'sandbox' },
  { match: /^cat > [\w.]+ <<'JSON'\n/, run: 'scratch' },
  { match: /^rm app\.json message\.json$/, run: 'scratch' },
  {
    match: /^npx cdk (synth|ls)$/,
    runBy: 'test/infra/deploy-commands.test.ts',
    mentions: 'npx cdk',
  },
  { match: /^npm ci && npm test$/, runBy: '.ci/run', mentions: 'npm ci' },
  {
    match: /^(npm ci|npm start|npm ci && npm start|PORT=3000 npm start)$/,
    runBy: 'test/e2e/shutdown.test.ts',
    mentions: "stopUnderLoad('npm'",
  },
  {
    match:
      /^(npx dynalite --port 8000 &|export DYNAMODB_ENDPOINT=.*|PORT=3001 WECHAT_API_BASE_URL=.* npm start)$/,
    runBy: 'test/e2e/shared-store.test.ts',
    mentions: 'DYNAMODB_ENDPOINT',
  },
  {
    match: /^WECHAT_API_BASE_URL=http:\/\/127\.0\.0\.1:4000 COMPONENT_APPID=.* npm start$/,
    runBy: 'test/e2e/sandbox.test.ts',
    mentions: 'WECHAT_API_BASE_URL',
  },
  {
    match:
      /^(npx cdk (bootstrap|diff|deploy|destroy)\b|aws (secretsmanager|cloudformation|events|lambda get-account-settings)\b|BUS=\$\(aws |npx wechat-token \w+ .*--(stack|function) )/,
    needs: 'an AWS account with the stack deployed',
  },
  {
    match: /^(apt-get update && apt-get install -y chromium fonts-noto-cjk|npm run browser-check)$/,
    needs: 'Chromium and a CJK font, which npm ci does not install',
  },
];

interface Documented {
  doc: string;
  command: string;
}

function documented(): Documented[] {
  return documents().flatMap((doc) => {
    const text = readDoc(doc);
    return [...shellCommands(text), ...inlineCurlCommands(text)].map((command) => ({
      doc,
      command,
    }));
  });
}

const rulesOf = (command: string) => RULES.filter((rule) => rule.match.test(command));
/** How a command is run here, when it is: in the sandbox, or in a scratch directory. */
const runOf = (command: string) => {
  const rule = rulesOf(command)[0];
  return rule && 'run' in rule ? rule.run : undefined;
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function bash(script: string, cwd: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      // Through a pipe of bash's own: Node's child stdout is a socket, which `/dev/stdout` cannot open.
      ['-e', '-o', 'pipefail', '-c', `(\n${script}\n) | cat`],
      {
        cwd,
        env: {
          PATH: [join(ROOT, 'node_modules', '.bin'), process.env.PATH].join(':'),
          HOME: process.env.HOME ?? tmpdir(),
          ...env,
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
    );
  });
}

describe('the commands in the README and docs/', () => {
  const all = documented();

  it('finds the commands it checks (a broken extraction would pass everything)', () => {
    expect(all.filter((c) => c.doc === 'README.md').length).toBeGreaterThanOrEqual(8);
    expect(new Set(all.map((c) => c.doc))).toEqual(
      new Set([
        'README.md',
        'docs/callers.md',
        'docs/deploy.md',
        'docs/events.md',
        'docs/operations.md',
        'docs/sandbox.md',
      ])
    );
  });

  it('runs, names who runs, or says what is missing for every command, exactly one of them', () => {
    const unclassified = all.filter(({ command }) => rulesOf(command).length !== 1);
    expect(
      unclassified.map(
        ({ doc, command }) => `${doc}: ${command} (${rulesOf(command).length} rules)`
      )
    ).toEqual([]);
  });

  it('names only tests that exist and do what the rule says', () => {
    for (const rule of RULES) {
      if (!('runBy' in rule)) continue;
      const file = join(ROOT, rule.runBy);
      expect(existsSync(file), rule.runBy).toBe(true);
      expect(readFileSync(file, 'utf8'), rule.runBy).toContain(rule.mentions);
    }
  });

  it('has a command for every rule (a rule nothing matches is stale)', () => {
    const unused = RULES.filter((rule) => !all.some(({ command }) => rule.match.test(command)));
    expect(unused.map((rule) => String(rule.match))).toEqual([]);
  });

  it('writes valid JSON with the here-documents, and cleans up after them', async () => {
    const scratch = all.filter(({ command }) => runOf(command) === 'scratch');
    expect(scratch.length).toBeGreaterThanOrEqual(3);
    const dir = mkdtempSync(join(tmpdir(), 'doc-commands-'));
    try {
      for (const { command } of scratch) {
        const written = /^cat > ([\w.]+) /.exec(command)?.[1];
        const run = await bash(command, dir, {});
        expect(run.code, command).toBe(0);
        if (written)
          expect(() => JSON.parse(readFileSync(join(dir, written), 'utf8'))).not.toThrow();
      }
      expect(existsSync(join(dir, 'app.json'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(
  documents().filter((doc) =>
    documented().some((c) => c.doc === doc && runOf(c.command) === 'sandbox')
  )
)('the sandbox commands of %s, as written', (doc) => {
  let sandbox: SandboxProcess;
  let port: string;
  let simulatorPort: string;
  let workDir: string;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'doc-commands-'));
    sandbox = spawnSandbox({ PORT: String(await freePort()) });
    const url = (await sandbox.waitFor(READY, 30_000))[1] as string;
    port = new URL(url).port;
    simulatorPort = new URL(
      (await sandbox.waitFor(/WeChat simulator +(http:\/\/127\.0\.0\.1:\d+)/))[1] as string
    ).port;
    const walk = await walkAuthorization(url, { authorizerAppId: MERCHANT });
    expect(walk.callback.status).toBe(200);
  }, 60_000);
  afterAll(() => {
    sandbox?.kill();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('each answers without an error, in order', async () => {
    const commands = documented().filter((c) => c.doc === doc && runOf(c.command) === 'sandbox');
    const env: Record<string, string> = {
      AWS_CONFIG_FILE: join(workDir, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(workDir, 'no-credentials'),
    };
    let exports = '';
    let cursor = '';
    for (const { command } of commands) {
      const script = command
        .replaceAll('127.0.0.1:3000', `127.0.0.1:${port}`)
        .replaceAll('<simulator port>', simulatorPort)
        .replaceAll('<cursor>', cursor);
      if (script.startsWith('export ')) {
        exports += `${script}\n`;
        continue;
      }
      const run = await bash(`${exports}${script}`, ROOT, env);
      expect(run.code, `${command}\n${run.stderr}`).toBe(0);
      const answer = run.stdout.trim();
      expect(answer, command).not.toBe('');
      expect(answer, command).not.toMatch(/"error"\s*:|"FunctionError"/);
      cursor = /"cursor":"([^"]+)"/.exec(answer)?.[1] ?? cursor;
    }
  }, 120_000);
});

describe('the banner docs/sandbox.md shows', () => {
  let sandbox: SandboxProcess;
  afterAll(() => sandbox?.kill());

  it('is what npm start prints, ports aside', async () => {
    sandbox = spawnSandbox({ PORT: String(await freePort()) });
    const port = new URL((await sandbox.waitFor(READY, 30_000))[1] as string).port;
    const banner = /```\n(WeChat token service sandbox[\s\S]*?)```/.exec(
      readDoc('docs/sandbox.md')
    )?.[1];
    expect(banner, 'docs/sandbox.md shows the banner').toBeDefined();
    const simulator = /WeChat simulator +http:\/\/127\.0\.0\.1:(\d+)/;
    const simulatorPort = simulator.exec(sandbox.stdout())?.[1];
    const expected = banner!
      .replaceAll('127.0.0.1:3000', `127.0.0.1:${port}`)
      .replaceAll(`127.0.0.1:${simulator.exec(banner!)?.[1]}`, `127.0.0.1:${simulatorPort}`)
      .trimEnd()
      .split('\n');
    const printed = sandbox.stdout().split('\n');
    expect(expected.length).toBeGreaterThan(10);
    expect(expected.filter((line) => !printed.includes(line))).toEqual([]);
  }, 60_000);
});
