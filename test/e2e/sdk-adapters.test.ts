import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { OfficialAccount, OpenPlatform } from 'node-easywechat';
import AuthorizerMiniApp from 'node-easywechat/dist/OpenPlatform/Authorizer/MiniApp/Application.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenClient, jsapiSignature, type TokenClient } from '../../client/src/index';
import { SANDBOX_EGRESS_IP } from '../../local/egress-fetch';
import { type Sandbox, startSandbox } from '../../local/sandbox';
import { readSandboxSettings } from '../../local/sandbox-settings';
import type { WechatSimulator } from '../../local/simulator';
import { silentLog } from '../../shared/log';
import { SUPERSEDED_OVERLAP_MS } from '../../shared/policy';
import { authorizerAppId } from '../support/test-ids';
import { postJson, ROOT } from './sandbox-process';

/**
 * The Node adapters of docs/sdk-adapters.md, taken from the document as it stands (its code blocks named
 * in their info string) and run against the sandbox with its WeChat simulator: wechat-api and node-easywechat
 * get their tokens and tickets from get-token through the client package, make real calls to the simulator,
 * report a token the simulator rejects and retry once, and never call a token or ticket endpoint themselves.
 *
 * The SDKs' calls leave from 127.0.0.3, a caller's address that the test adds to the simulator's whitelist
 * (as a platform admin adds a caller's egress IP), so the simulator's call log tells them from the service's
 * own calls (127.0.0.2). Tokens are compared by fingerprint, so that a failure prints none.
 */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const execFileAsync = promisify(execFile);

const SDK_EGRESS = '127.0.0.3';
const WECHAT_API_MERCHANT = authorizerAppId(41);
const EASYWECHAT_MERCHANT = authorizerAppId(42);
const MINI_PROGRAM = authorizerAppId(43);
const PAGE_URL = 'https://shop.example.com/pay?order=1';

const settings = readSandboxSettings({ PORT: '0', REFRESH_INTERVAL_MS: '0' });
let sandbox: Sandbox;
let simulator: WechatSimulator;
let workDir: string;
let tokens: TokenClient;
/** Every get-token request the client package sent, as its payload. */
const invokes: Record<string, unknown>[] = [];

const fingerprint = (secret: string) =>
  createHash('sha256').update(secret).digest('hex').slice(0, 12);

/** The code blocks of a Markdown text whose info string names a file (```ts name.ts), by that name. */
function namedBlocks(markdown: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const match of markdown.matchAll(/^```\w+ ([\w.-]+)\n([\s\S]*?)^```$/gm)) {
    blocks.set(match[1] as string, match[2] as string);
  }
  return blocks;
}

/** What get-token issues for `request` now, asked directly rather than through the client or an SDK. */
async function issued(request: Record<string, unknown>): Promise<string> {
  const { json } = await postJson(`${sandbox.url}/local/token`, request);
  const value = json.accessToken ?? json.ticket;
  if (typeof value !== 'string')
    throw new Error(`get-token answered ${JSON.stringify(json.error)}`);
  return value;
}

/** The calls the SDKs made to the simulator after the `since`th call, tokens as fingerprints. */
function sdkCalls(since = 0) {
  return simulator.calls
    .slice(since)
    .filter((call) => call.clientIp === SDK_EGRESS)
    .map((call) => ({
      path: call.path,
      token: call.token === undefined ? undefined : fingerprint(call.token),
      errcode: call.errcode,
    }));
}

/** The reports of a rejected token among the get-token requests after the `since`th one. */
function reports(since: number) {
  return invokes
    .slice(since)
    .filter((request) => typeof request.invalidToken === 'string')
    .map((request) => ({
      appId: request.authorizerAppId,
      token: fingerprint(request.invalidToken as string),
    }));
}

/** A token the service handed out is superseded (renewed elsewhere) and past WeChat's 5-minute overlap. */
async function supersede(appId: string): Promise<void> {
  simulator.renewElsewhere(appId);
  await sandbox.advanceClock(SUPERSEDED_OVERLAP_MS + 1);
}

beforeAll(async () => {
  const blocks = namedBlocks(await readFile(join(ROOT, 'docs', 'sdk-adapters.md'), 'utf8'));
  workDir = await mkdtemp(join(tmpdir(), 'sdk-adapters-'));
  await symlink(join(ROOT, 'node_modules'), join(workDir, 'node_modules'), 'dir');
  await writeFile(join(workDir, 'package.json'), JSON.stringify({ type: 'module' }));
  for (const name of ['wechat-api-adapter.cjs', 'easywechat-adapter.ts']) {
    const code = blocks.get(name);
    if (code === undefined) throw new Error(`docs/sdk-adapters.md has no block named ${name}`);
    await writeFile(join(workDir, name), code);
  }

  sandbox = await startSandbox(settings, silentLog);
  simulator = sandbox.simulator as WechatSimulator;
  simulator.setWhitelist([SANDBOX_EGRESS_IP, SDK_EGRESS]);
  for (const appId of [WECHAT_API_MERCHANT, EASYWECHAT_MERCHANT]) {
    await simulator.pushAuthorized(appId, { funcIds: [1, 15] });
  }
  await simulator.pushAuthorized(MINI_PROGRAM, { funcIds: [17, 18], accountType: 'mini_program' });

  const lambda = new LambdaClient({
    endpoint: sandbox.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
    maxAttempts: 1,
  });
  lambda.middlewareStack.add(
    (next) => async (args) => {
      const { Payload } = args.input as { Payload?: Uint8Array };
      invokes.push(JSON.parse(new TextDecoder().decode(Payload)));
      return next(args);
    },
    { step: 'initialize', name: 'recordGetTokenRequests' }
  );
  tokens = createTokenClient({ functionName: 'get-token', lambda, clock: () => sandbox.now() });
}, 120_000);

afterAll(async () => {
  await sandbox?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

type Callback<T> = (error: Error | null, value: T) => void;

/** The part of wechat-api's `API` this test drives. */
interface WechatApi {
  endpoint: string;
  setOpts(options: Record<string, unknown>): void;
  getLatestToken(callback: Callback<{ accessToken: string }>): void;
  getAccessToken(callback: Callback<{ accessToken: string }>): void;
  getUser(openid: string, callback: Callback<Record<string, unknown>>): void;
  getJsConfig(
    param: { url: string; jsApiList: string[] },
    callback: Callback<{ nonceStr: string; timestamp: string; signature: string }>
  ): void;
  getLatestTicket(callback: Callback<{ ticket: string }>): void;
}

/** A Node-style call as a promise. */
const called = <T>(start: (callback: Callback<T>) => void) =>
  new Promise<T>((resolve, reject) => {
    start((error, value) => (error ? reject(error) : resolve(value)));
  });

/**
 * An SDK call made with a token WeChat has since superseded: the adapter reports it to get-token, which
 * renews it once, and the SDK's call is made once more with the new token.
 */
async function expectReportedAndRetried(
  merchant: string,
  getUser: (openid: string) => Promise<unknown>
): Promise<void> {
  const openid = simulator.openId(merchant);
  const rejected = await tokens.getAuthorizerToken(merchant);
  await supersede(merchant);
  const mark = simulator.calls.length;
  const invokeMark = invokes.length;
  const renewals = simulator.callCount('api_authorizer_token');

  const user = await getUser(openid);

  const renewed = await issued({ authorizerAppId: merchant });
  expect(user).toMatchObject({ openid });
  expect(fingerprint(renewed)).not.toBe(fingerprint(rejected));
  expect(sdkCalls(mark)).toEqual([
    { path: '/cgi-bin/user/info', token: fingerprint(rejected), errcode: 40001 },
    { path: '/cgi-bin/user/info', token: fingerprint(renewed) },
  ]);
  expect(reports(invokeMark)).toEqual([{ appId: merchant, token: fingerprint(rejected) }]);
  expect(simulator.callCount('api_authorizer_token') - renewals).toBe(1);
}

describe('wechat-api with the adapter', () => {
  let api: WechatApi;
  const getUser = (openid: string) =>
    called<Record<string, unknown>>((callback) => api.getUser(openid, callback));

  beforeAll(() => {
    const load = createRequire(import.meta.url);
    const { wechatApiFor } = load(join(workDir, 'wechat-api-adapter.cjs')) as {
      wechatApiFor(tokens: TokenClient, appId: string): WechatApi;
    };
    api = wechatApiFor(tokens, WECHAT_API_MERCHANT);
    api.endpoint = sandbox.wechat.url;
    api.setOpts({ agent: new Agent({ localAddress: SDK_EGRESS }) });
  });

  it('calls the simulator with the token get-token issued for the merchant; its refresher asks get-token', async () => {
    const mark = simulator.calls.length;
    const openid = simulator.openId(WECHAT_API_MERCHANT);

    const latest = await called<{ accessToken: string }>((callback) =>
      api.getLatestToken(callback)
    );
    const fetched = await called<{ accessToken: string }>((callback) =>
      api.getAccessToken(callback)
    );
    const user = await getUser(openid);

    const expected = fingerprint(await issued({ authorizerAppId: WECHAT_API_MERCHANT }));
    expect(fingerprint(latest.accessToken)).toBe(expected);
    expect(fingerprint(fetched.accessToken)).toBe(expected);
    expect(user).toMatchObject({ openid, subscribe: 1 });
    expect(sdkCalls(mark)).toEqual([{ path: '/cgi-bin/user/info', token: expected }]);
  });

  it('signs wx.config with the jsapi_ticket get-token issued, and never calls getticket', async () => {
    const mark = simulator.calls.length;

    const config = await called<{ nonceStr: string; timestamp: string; signature: string }>(
      (callback) => api.getJsConfig({ url: PAGE_URL, jsApiList: ['chooseImage'] }, callback)
    );
    const latest = await called<{ ticket: string }>((callback) => api.getLatestTicket(callback));

    const ticket = await issued({ authorizerAppId: WECHAT_API_MERCHANT, ticket: 'jsapi' });
    expect(fingerprint(latest.ticket)).toBe(fingerprint(ticket));
    const { nonceStr, timestamp, signature } = config;
    expect(signature).toBe(
      jsapiSignature({ jsapiTicket: ticket, nonceStr, timestamp: Number(timestamp), url: PAGE_URL })
    );
    expect(sdkCalls(mark)).toEqual([]);
    expect(fingerprint(simulator.currentTicket(WECHAT_API_MERCHANT, 'jsapi') ?? '')).toBe(
      fingerprint(ticket)
    );
  });

  it('on 40001 reports the token to get-token, which renews it, and calls once more', () =>
    expectReportedAndRetried(WECHAT_API_MERCHANT, getUser));

  it('reports a 42001 as well (wechat-api retried on 40001 only); a live token comes back unchanged', async () => {
    const openid = simulator.openId(WECHAT_API_MERCHANT);
    const current = fingerprint(await tokens.getAuthorizerToken(WECHAT_API_MERCHANT));
    simulator.failNext('getUserInfo', { errcode: 42001 });
    const mark = simulator.calls.length;
    const invokeMark = invokes.length;
    const renewals = simulator.callCount('api_authorizer_token');

    const user = await getUser(openid);

    expect(user).toMatchObject({ openid });
    expect(sdkCalls(mark)).toEqual([
      { path: '/cgi-bin/user/info', token: current, errcode: 42001 },
      { path: '/cgi-bin/user/info', token: current },
    ]);
    expect(reports(invokeMark)).toEqual([{ appId: WECHAT_API_MERCHANT, token: current }]);
    expect(simulator.callCount('api_authorizer_token') - renewals).toBe(0);
  });
});

/** The functions of the node-easywechat adapter this test uses. */
interface EasywechatAdapter {
  useTokenService<App extends OfficialAccount | AuthorizerMiniApp>(
    app: App,
    tokens: TokenClient
  ): App;
  useComponentTokenService(platform: OpenPlatform, tokens: TokenClient): OpenPlatform;
}

describe('node-easywechat with the adapter', () => {
  let adapter: EasywechatAdapter;
  let account: OfficialAccount;
  /** The simulator instead of https://api.weixin.qq.com/, from the caller's whitelisted address. */
  const http = () => ({
    baseURL: `${sandbox.wechat.url}/`,
    httpAgent: new Agent({ localAddress: SDK_EGRESS }),
  });
  const getUser = async (openid: string) =>
    (await account.getClient().get('/cgi-bin/user/info', { params: { openid } })).toObject();

  beforeAll(async () => {
    adapter = (await import(
      pathToFileURL(join(workDir, 'easywechat-adapter.ts')).href
    )) as EasywechatAdapter;
    account = adapter.useTokenService(
      new OfficialAccount({ app_id: EASYWECHAT_MERCHANT, http: http() }),
      tokens
    );
  });

  it('type-checks as TypeScript, strict, as an ES module', { timeout: 120_000 }, async () => {
    await writeFile(
      join(workDir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noImplicitOverride: true,
          skipLibCheck: true,
          noEmit: true,
          types: ['node'],
        },
        files: ['easywechat-adapter.ts'],
      })
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

    const { stdout } = await execFileAsync(process.execPath, [
      tsc,
      '-p',
      join(workDir, 'tsconfig.json'),
    ]).catch((error: { stdout?: string }) => ({ stdout: error.stdout }));

    expect(stdout).toBe('');
  });

  it('calls the simulator with the token get-token issued for the merchant', async () => {
    const mark = simulator.calls.length;
    const openid = simulator.openId(EASYWECHAT_MERCHANT);

    const token = await account.getAccessToken().getToken();
    const user = await getUser(openid);

    const expected = fingerprint(await issued({ authorizerAppId: EASYWECHAT_MERCHANT }));
    expect(fingerprint(token)).toBe(expected);
    expect(user).toMatchObject({ openid, subscribe: 1 });
    expect(sdkCalls(mark)).toEqual([{ path: '/cgi-bin/user/info', token: expected }]);
  });

  it('signs wx.config with the jsapi_ticket get-token issued, and never calls getticket', async () => {
    const mark = simulator.calls.length;

    const ticket = await account.getTicket().getTicket();
    const config = await account.getTicket().configSignature(PAGE_URL, 'n0nce', 1_800_000_000);

    const expected = await issued({ authorizerAppId: EASYWECHAT_MERCHANT, ticket: 'jsapi' });
    expect(fingerprint(ticket)).toBe(fingerprint(expected));
    expect(config.signature).toBe(
      jsapiSignature({
        jsapiTicket: expected,
        nonceStr: 'n0nce',
        timestamp: 1_800_000_000,
        url: PAGE_URL,
      })
    );
    expect(sdkCalls(mark)).toEqual([]);
  });

  it('on 40001 reports the token to get-token, which renews it, and calls once more', () =>
    expectReportedAndRetried(EASYWECHAT_MERCHANT, getUser));

  it('logs a mini program user in through the platform with the component token get-token issued', async () => {
    const platform = adapter.useComponentTokenService(
      new OpenPlatform({ app_id: settings.componentAppId, secret: '', aes_key: '', http: http() }),
      tokens
    );
    const mini = adapter.useTokenService(
      new AuthorizerMiniApp({ app_id: MINI_PROGRAM, http: http() }, platform),
      tokens
    );
    const code = simulator.loginCode(MINI_PROGRAM);
    const mark = simulator.calls.length;

    const session = await mini.getUtils().code2Session(code);

    expect(session).toMatchObject({ openid: simulator.openId(MINI_PROGRAM) });
    expect(sdkCalls(mark)).toEqual([
      {
        path: '/sns/component/jscode2session',
        token: fingerprint(await issued({ component: true })),
      },
    ]);
  });

  it('refuses the platform calls that would mint or renew tokens beside the service', async () => {
    const platform = adapter.useComponentTokenService(
      new OpenPlatform({ app_id: settings.componentAppId, secret: '', aes_key: '', http: http() }),
      tokens
    );
    const mark = simulator.calls.length;

    await expect(platform.getAuthorization('queryauthcode@@@x')).rejects.toThrow(/token service/);
    await expect(platform.refreshAuthorizerToken(MINI_PROGRAM, 'x')).rejects.toThrow(
      /token service/
    );
    await expect(platform.getMiniAppWithRefreshToken(MINI_PROGRAM, 'x')).rejects.toThrow(
      /token service/
    );

    expect(sdkCalls(mark)).toEqual([]);
  });
});

describe('both SDKs', () => {
  it('called WeChat only through the APIs under test, never a token or ticket endpoint', () => {
    const paths = new Set(sdkCalls().map((call) => call.path));

    expect([...paths].sort()).toEqual(['/cgi-bin/user/info', '/sns/component/jscode2session']);
    expect(
      simulator.calls.filter((call) =>
        ['/cgi-bin/token', '/cgi-bin/stable_token'].includes(call.path)
      )
    ).toEqual([]);
  });
});
