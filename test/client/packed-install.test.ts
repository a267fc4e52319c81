import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../local/sandbox';
import { readSandboxSettings } from '../../local/sandbox-settings';
import { silentLog } from '../../shared/log';
import { postJson, ROOT } from '../e2e/sandbox-process';
import { AUTHORIZER_APPID, OTHER_AUTHORIZER_APPID } from '../support/test-ids';

/**
 * The client package as another service gets it: `npm pack` of `client/` (its `prepack` builds it),
 * installed from the tarball into scratch projects outside the repository (ESM, CommonJS, and CommonJS
 * TypeScript compiled by tsc), each of which gets a token from the in-process sandbox through the Lambda
 * Invoke API. npm installs offline from its cache when it can (one cache, the user's, for all three), and
 * from the registry otherwise.
 */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const execFileAsync = promisify(execFile);

/** `execFile`, failing with what the command printed (tsc and npm write their diagnostics to stdout). */
async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}
): Promise<{ stdout: string }> {
  try {
    return await execFileAsync(command, args, { ...options, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`, {
      cause: error,
    });
  }
}
const SLOW = 180_000;
const CLIENT = join(ROOT, 'client');
const PACKAGE = '@wechat-token-service/client';

let workDir: string;
let tarball: string;
let sandbox: Sandbox;
let expectedToken: string;

/**
 * The environment for npm and the scratch programs: without the `npm_*` variables `npm test` sets (they
 * would carry this repository's workspace settings into the scratch installs), and with what an AWS client
 * reads: the sandbox as the Lambda endpoint and made-up credentials.
 */
function scratchEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && !/^AWS_/.test(key))
  );
  return {
    ...env,
    AWS_ENDPOINT_URL_LAMBDA: sandbox.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'sandbox',
    AWS_SECRET_ACCESS_KEY: 'sandbox',
    AWS_CONFIG_FILE: join(workDir, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(workDir, 'no-credentials'),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** A scratch project in its own folder: `package.json` and the given files. */
async function scratchProject(
  name: string,
  manifest: Record<string, unknown>,
  files: Record<string, string>
): Promise<string> {
  const dir = join(workDir, name);
  await mkdir(dir);
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', private: true, ...manifest }, null, 2)
  );
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return dir;
}

/** `npm install` of the tarball (and `extra` packages): from the cache alone if it can, else online. */
async function npmInstall(dir: string, extra: string[] = []): Promise<void> {
  const args = ['install', '--no-audit', '--no-fund', tarball, ...extra];
  const options = { cwd: dir, env: scratchEnv(), timeout: SLOW };
  try {
    await run('npm', [...args, '--offline'], options);
  } catch {
    await run('npm', [...args, '--prefer-offline'], options);
  }
}

/** Runs `node <script> <endpoint> <appid> <unknown appid>` in `dir` and parses the JSON it prints. */
async function runScript(dir: string, script: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(
    process.execPath,
    [script, sandbox.url, AUTHORIZER_APPID, OTHER_AUTHORIZER_APPID],
    { cwd: dir, env: scratchEnv(), timeout: 60_000 }
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) as string);
}

/** The versions this repository builds with, so the TypeScript project resolves them from the cache. */
async function rootDevVersion(name: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
  return `${name}@${manifest.devDependencies[name]}`;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'packed-install-'));
  const packDir = join(workDir, 'pack');
  await mkdir(packDir);
  await run('npm', ['pack', '--pack-destination', packDir], {
    cwd: CLIENT,
    env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key))),
    timeout: SLOW,
  });
  const [file] = (await readdir(packDir)).filter((name) => name.endsWith('.tgz'));
  tarball = join(packDir, file as string);

  sandbox = await startSandbox(
    readSandboxSettings({ PORT: '0', REFRESH_INTERVAL_MS: '0' }),
    silentLog
  );
  await sandbox.simulator!.pushAuthorized(AUTHORIZER_APPID, { funcIds: [1] });
  const direct = await postJson(`${sandbox.url}/local/token`, {
    authorizerAppId: AUTHORIZER_APPID,
  });
  expectedToken = direct.json.accessToken as string;
  expect(expectedToken).toEqual(expect.any(String));
}, SLOW);

afterAll(async () => {
  await sandbox?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('the packed client installed from its tarball outside the repository', () => {
  it('packs a manifest without install-time scripts, with its license and the Lambda client as a peer', async () => {
    const { stdout } = await run('tar', ['-xOzf', tarball, 'package/package.json']);
    const manifest = JSON.parse(stdout);

    expect(manifest.license).toBe('MIT');
    expect(
      Object.keys(manifest.scripts ?? {}).filter((script) =>
        ['prepare', 'preinstall', 'install', 'postinstall'].includes(script)
      )
    ).toEqual([]);
    expect(manifest.peerDependencies).toEqual({ '@aws-sdk/client-lambda': expect.any(String) });
  });

  it('gets a token with import in an ES module project', { timeout: SLOW }, async () => {
    const dir = await scratchProject(
      'esm-caller',
      { type: 'module' },
      {
        'main.js': `
          import { createTokenClient, TokenServiceError } from '${PACKAGE}';
          import schema from '${PACKAGE}/schemas/wechat-message-event.schema.json' with { type: 'json' };
          const [, , , appId, unknownAppId] = process.argv;
          // The Lambda client from the environment: AWS_ENDPOINT_URL_LAMBDA points at the sandbox.
          const tokens = createTokenClient({ functionName: 'get-token' });
          const token = await tokens.getAuthorizerToken(appId);
          const notFound = await tokens
            .getAuthorizerToken(unknownAppId)
            .catch((error) => (error instanceof TokenServiceError ? error.code : String(error)));
          console.log(JSON.stringify({ token, notFound, schema: schema.title }));
        `,
      }
    );
    await npmInstall(dir);

    const printed = await runScript(dir, 'main.js');

    expect(printed).toEqual({
      token: expectedToken,
      notFound: 'authorizer_not_found',
      schema: 'WechatMessageEvent',
    });
  });

  it('gets a token with require() in a CommonJS project', { timeout: SLOW }, async () => {
    const dir = await scratchProject(
      'cjs-caller',
      { type: 'commonjs' },
      {
        'main.js': `
          const { LambdaClient } = require('@aws-sdk/client-lambda');
          const { createTokenClient, TokenServiceError } = require('${PACKAGE}');
          const schema = require('${PACKAGE}/schemas/wechat-message-event.schema.json');
          const [, , endpoint, appId, unknownAppId] = process.argv;
          const lambda = new LambdaClient({
            endpoint,
            region: 'us-east-1',
            credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
          });
          const tokens = createTokenClient({ functionName: 'get-token', lambda });
          (async () => {
            const token = await tokens.getAuthorizerToken(appId);
            const notFound = await tokens
              .getAuthorizerToken(unknownAppId)
              .catch((error) => (error instanceof TokenServiceError ? error.code : String(error)));
            console.log(JSON.stringify({ token, notFound, schema: schema.title }));
          })();
        `,
      }
    );
    await npmInstall(dir);

    const printed = await runScript(dir, 'main.js');

    expect(printed).toEqual({
      token: expectedToken,
      notFound: 'authorizer_not_found',
      schema: 'WechatMessageEvent',
    });
  });

  it('type-checks under tsc (module commonjs, and node16 for require and import), then gets a token', {
    timeout: SLOW,
  }, async () => {
    const compilerOptions = {
      target: 'ES2022',
      lib: ['ES2023'],
      types: ['node'],
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: false,
    };
    const dir = await scratchProject(
      'ts-cjs-caller',
      { type: 'commonjs' },
      {
        'tsconfig.json': JSON.stringify({
          // The library's declarations are checked once, by the node16 run.
          compilerOptions: {
            ...compilerOptions,
            module: 'commonjs',
            outDir: 'out',
            skipLibCheck: true,
          },
          files: ['main.ts'],
        }),
        'tsconfig.node16.json': JSON.stringify({
          compilerOptions: { ...compilerOptions, module: 'node16', noEmit: true },
          files: ['main.ts', 'esm-check.mts'],
        }),
        'main.ts': `
          import { LambdaClient } from '@aws-sdk/client-lambda';
          import { createTokenClient, type TokenClient, TokenServiceError } from '${PACKAGE}';

          const [endpoint, appId, unknownAppId] = process.argv.slice(2) as [string, string, string];
          const tokens: TokenClient = createTokenClient({
            functionName: 'get-token',
            lambda: new LambdaClient({
              endpoint,
              region: 'us-east-1',
              credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
            }),
          });

          async function main(): Promise<void> {
            const token: string = await tokens.getAuthorizerToken(appId);
            const notFound = await tokens
              .getAuthorizerToken(unknownAppId)
              .catch((error: unknown) =>
                error instanceof TokenServiceError ? error.code : String(error)
              );
            console.log(JSON.stringify({ token, notFound }));
          }
          void main();
        `,
        'esm-check.mts': `
          import type { LambdaClient } from '@aws-sdk/client-lambda';
          import { createTokenClient, type TokenErrorCode } from '${PACKAGE}';

          export const tokensOf = (lambda: LambdaClient) =>
            createTokenClient({ functionName: 'get-token', lambda });
          export const code: TokenErrorCode = 'authorizer_not_found';
        `,
      }
    );
    await npmInstall(dir, [
      await rootDevVersion('typescript'),
      await rootDevVersion('@types/node'),
    ]);
    const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.node16.json'], { cwd: dir, timeout: SLOW });
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, timeout: SLOW });

    const printed = await runScript(dir, 'out/main.js');

    expect(printed).toEqual({ token: expectedToken, notFound: 'authorizer_not_found' });
  });
});
