import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWechatSimulator, type WechatSimulator } from '../../local/simulator';
import { walkAuthorization } from '../support/browser';
import { AUTHORIZER_APPID, COMPONENT_APPID } from '../support/test-ids';
import { freePort, postJson, type SandboxProcess, spawnSandbox } from './sandbox-process';

/**
 * `npm start` as a user runs it: a child process (`tsx local/sandbox-cli.ts`), driven over HTTP on
 * 127.0.0.1 only — the ticket push, the authorization through the confirm page, tokens, the refresh, the
 * revocation — and stopped with a signal.
 */
const READY = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m;
/** Shapes of the simulator's credentials: none may ever reach the sandbox's output. */
const CREDENTIAL = /ticket@@@|preauthcode@@@|queryauthcode@@@|refreshtoken@@@/;

const running: SandboxProcess[] = [];
function start(env: Record<string, string>): SandboxProcess {
  const sandbox = spawnSandbox(env);
  running.push(sandbox);
  return sandbox;
}
afterAll(() => {
  for (const sandbox of running) sandbox.kill();
});

const output = (sandbox: SandboxProcess) => sandbox.stdout() + sandbox.stderr();

/** Polls get-token until it answers a token (the first ticket may still be on its way). */
async function componentToken(url: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const { json } = await postJson(`${url}/local/token`, { component: true });
    if (json.accessToken || Date.now() > deadline) return json;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The merchant authorizes through the page, WeChat's confirm page and our callback; then gets a token. */
async function authorizeMerchant(url: string, wechatUrl: string) {
  const walk = await walkAuthorization(url, { authorizerAppId: AUTHORIZER_APPID });
  expect(walk.pageUrl).toBe(`${url}/authorize`);
  expect(walk.link.startsWith(`${wechatUrl}/cgi-bin/componentloginpage?`)).toBe(true);
  expect(new URL(walk.link).searchParams.get('redirect_uri')).toBe(`${url}/authorize/callback`);
  expect(walk.callback.status).toBe(200);
  expect(walk.callbackHtml).toContain('data-status="authorized"');
  expect(walk.callbackHtml).toContain(AUTHORIZER_APPID);
  const token = await postJson(`${url}/local/token`, { authorizerAppId: AUTHORIZER_APPID });
  expect(token.status).toBe(200);
  expect(token.json).toMatchObject({ appId: AUTHORIZER_APPID, accessToken: expect.any(String) });
  expect(Date.parse(token.json.expiresAt as string)).toBeGreaterThan(Date.now() + 3_600_000);
  return { walk, accessToken: token.json.accessToken as string };
}

async function expectRefreshSummary(url: string) {
  const refresh = await postJson(`${url}/local/refresh`, {});
  expect(refresh.status).toBe(200);
  expect(refresh.json).toMatchObject({
    ticket: { usable: true },
    component: expect.stringMatching(/^(fresh|refreshed)$/),
    authorizers: { failed: {}, truncated: false },
  });
  expect(refresh.json.systemicError).toBeUndefined();
}

async function expectRevoked(url: string) {
  const after = await postJson(`${url}/local/token`, { authorizerAppId: AUTHORIZER_APPID });
  expect(after.json).toEqual({
    error: { code: 'authorizer_revoked', message: expect.stringContaining(AUTHORIZER_APPID) },
  });
}

describe('npm start with its own WeChat simulator', () => {
  let sandbox: SandboxProcess;
  let url: string;
  let simulatorUrl: string;
  const tokens: string[] = [];
  let authCode = '';

  beforeAll(async () => {
    sandbox = start({ PORT: String(await freePort()), REFRESH_INTERVAL_MS: '0' });
    url = (await sandbox.waitFor(READY))[1] as string;
    simulatorUrl = (
      await sandbox.waitFor(/WeChat simulator +(http:\/\/127\.0\.0\.1:\d+)/)
    )[1] as string;
  });

  it('prints one line per URL, the ready line last, and no generated secret', () => {
    const lines = sandbox.stdout().trimEnd().split('\n');
    expect(lines.at(-1)).toBe(`listening on ${url}`);
    const banner = lines.findIndex((line) => line.startsWith('WeChat token service sandbox'));
    expect(lines.slice(banner)).toEqual([
      'WeChat token service sandbox, component appid wx0123456789abcdef (COMPONENT_APPSECRET, COMPONENT_TOKEN, COMPONENT_ENCODING_AES_KEY generated for this run, not shown)',
      `  authorization page  ${url}/authorize`,
      `  event URL           ${url}/wechat/events`,
      `  message URL         ${url}/wechat/messages/$APPID$`,
      '  token table         sandbox-tokens in the embedded dynalite (in memory; DYNAMODB_ENDPOINT for another)',
      `  WeChat simulator    ${simulatorUrl} (pushes a ticket every 600 s; whitelists only 127.0.0.2, the service's egress)`,
      `  revoke (simulator)  POST ${simulatorUrl}/simulator/unauthorize?authorizer_appid=<appid>`,
      `  WeChat calls        GET ${url}/local/wechat-calls`,
      `  fans' messages      POST ${url}/local/messages {"count":5} (the simulator sends them to the message URL)`,
      `  release check       POST ${simulatorUrl}/simulator/release-check (WeChat's 全网发布 check: pass/fail per step)`,
      `  get a token         POST ${url}/local/token {"authorizerAppId":"<appid>"} or {"component":true}`,
      `  call WeChat         aws lambda invoke --function-name call-wechat --endpoint-url ${url} (its egress is whitelisted)`,
      `  scheduled refresh   POST ${url}/local/refresh (timer off: REFRESH_INTERVAL_MS=0)`,
      `  time travel         POST ${url}/local/clock {"advanceMs":7200000} (GET: the sandbox's time)`,
      `  bus events          GET ${url}/local/events (lifecycle events and messages, as EventBridge carries them)`,
      `  operations CLI      npx wechat-token status --endpoint-url ${url} (also list, show, refresh, reconcile)`,
      `listening on ${url}`,
    ]);
    expect(sandbox.stderr()).toBe('');
  });

  it('has stored the ticket the simulator pushed at start, so the component token is available', async () => {
    expect(sandbox.stdout()).toMatch(/INFO {2}POST \/wechat\/events 200 \d+ms/);
    const answer = await componentToken(url);
    expect(answer).toMatchObject({ appId: 'wx0123456789abcdef', accessToken: expect.any(String) });
    tokens.push(answer.accessToken as string);
  });

  it('authorizes a merchant through the page and the simulator confirm page, then hands out its token', async () => {
    const { walk, accessToken } = await authorizeMerchant(url, simulatorUrl);
    tokens.push(accessToken);
    authCode = new URL(walk.callbackUrl).searchParams.get('auth_code') ?? '';
    expect(authCode).not.toBe('');
  });

  it('runs the scheduled refresh on /local/refresh and logs a one-line summary', async () => {
    await expectRefreshSummary(url);
    await sandbox.waitFor(
      /INFO {2}scheduled refresh finished component=\w+ .*seen=\d+ refreshed=\d+/
    );
  });

  it('time travel: POST /local/clock 2 h later, the merchant\u2019s token has been renewed', async () => {
    const before = await postJson(`${url}/local/token`, { authorizerAppId: AUTHORIZER_APPID });
    const realNow = Date.now();
    const advanced = await postJson(`${url}/local/clock`, { advanceMs: 7_200_000 });
    expect(advanced.status).toBe(200);
    expect(Date.parse(advanced.json.now as string)).toBeGreaterThanOrEqual(realNow + 7_200_000);
    await sandbox.waitFor(/INFO {2}clock advanced advanceMs=7200000 now=\S+/);
    const clock = (await (await fetch(`${url}/local/clock`)).json()) as { now: string };
    expect(Date.parse(clock.now)).toBeGreaterThanOrEqual(Date.parse(advanced.json.now as string));
    const after = await postJson(`${url}/local/token`, { authorizerAppId: AUTHORIZER_APPID });
    expect(after.json.accessToken).toEqual(expect.any(String));
    expect(after.json.accessToken).not.toBe(before.json.accessToken);
    expect(Date.parse(after.json.expiresAt as string)).toBeGreaterThan(Date.parse(clock.now));
    tokens.push(after.json.accessToken as string);
    const bad = await postJson(`${url}/local/clock`, { advanceMs: -1 });
    expect(bad).toEqual({
      status: 400,
      json: {
        error: {
          code: 'invalid_request',
          message: 'advanceMs must be an integer number of milliseconds, 0 or more',
        },
      },
    });
  });

  it('revokes through the simulator (the merchant in WeChat\u2019s console): unauthorized push, authorizer_revoked', async () => {
    const revoke = await fetch(
      `${simulatorUrl}/simulator/unauthorize?authorizer_appid=${AUTHORIZER_APPID}`,
      { method: 'POST' }
    );
    expect(revoke.status).toBe(200);
    expect(await revoke.json()).toEqual({
      errcode: 0,
      errmsg: 'ok',
      push: { status: 200, body: 'success' },
    });
    await expectRevoked(url);
    await sandbox.waitFor(
      new RegExp(`INFO {2}authorizer revoked authorizerAppId=${AUTHORIZER_APPID}`)
    );
    const again = await fetch(
      `${simulatorUrl}/simulator/unauthorize?authorizer_appid=${AUTHORIZER_APPID}`,
      {
        method: 'POST',
      }
    );
    expect(again.status).toBe(404);
    expect(((await again.json()) as { errcode: number }).errcode).toBe(61003);
  });

  it('never printed a token, ticket or code', () => {
    const text = output(sandbox);
    expect(text).not.toMatch(CREDENTIAL);
    for (const secret of [...tokens, authCode]) expect(text).not.toContain(secret);
  });

  it('stops on SIGINT: servers closed, exit code 0 (the sandbox itself exits 1 if shutdown takes over 10 s)', async () => {
    const exit = await sandbox.stop('SIGINT');
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(sandbox.stdout()).toContain('sandbox: stopped');
    await expect(fetch(`${url}/authorize`)).rejects.toThrow();
    await expect(fetch(simulatorUrl)).rejects.toThrow();
  });
});

describe('npm start with WECHAT_API_BASE_URL pointing at another WeChat', () => {
  const secret = {
    COMPONENT_APPID,
    COMPONENT_APPSECRET: 'e2eAppSecretValue0123456789abcdef',
    COMPONENT_TOKEN: 'e2eMessageToken0042',
    COMPONENT_ENCODING_AES_KEY: 'e2eAesKey0123456789abcdefghijklmnopqrstuvwx',
  };
  let wechat: WechatSimulator;
  let sandbox: SandboxProcess;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    wechat = await startWechatSimulator({
      componentAppId: secret.COMPONENT_APPID,
      componentAppSecret: secret.COMPONENT_APPSECRET,
      token: secret.COMPONENT_TOKEN,
      encodingAesKey: secret.COMPONENT_ENCODING_AES_KEY,
      eventUrl: `http://127.0.0.1:${port}/wechat/events`,
    });
    sandbox = start({
      ...secret,
      PORT: String(port),
      WECHAT_API_BASE_URL: wechat.url,
      REFRESH_INTERVAL_MS: '0',
    });
    url = (await sandbox.waitFor(READY))[1] as string;
  });
  afterAll(async () => {
    sandbox.kill();
    await wechat.close();
  });

  it('starts no simulator and names the external WeChat', () => {
    expect(sandbox.stdout()).toContain(`  WeChat (external)   ${wechat.url} `);
    expect(sandbox.stdout()).not.toContain('WeChat simulator');
    expect(sandbox.stdout()).not.toContain('generated');
    expect(wechat.pushes).toEqual([]);
  });

  it('accepts that WeChat\u2019s encrypted ticket push and mints the component token from it', async () => {
    expect(await wechat.pushTicket()).toMatchObject({ status: 200, body: 'success' });
    const answer = await componentToken(url);
    expect(answer.appId).toBe(secret.COMPONENT_APPID);
    expect(wechat.tokenStatus(answer.accessToken as string)).toBe('valid');
  });

  it('sends the merchant to that WeChat\u2019s confirm page and exchanges the code once', async () => {
    const { accessToken } = await authorizeMerchant(url, wechat.url);
    expect(wechat.tokenStatus(accessToken)).toBe('valid');
    await wechat.flushPushes();
    expect(wechat.pushes.find((p) => p.infoType === 'authorized')?.body).toBe('success');
    expect(wechat.callCount('api_query_auth')).toBe(1);
  });

  it('refreshes and follows the revocation push', async () => {
    await expectRefreshSummary(url);
    expect(await wechat.pushUnauthorized(AUTHORIZER_APPID)).toMatchObject({
      status: 200,
      body: 'success',
    });
    await expectRevoked(url);
  });

  it('never printed the configured secrets, and stops on SIGTERM with exit code 0', async () => {
    const exit = await sandbox.stop('SIGTERM');
    expect(exit).toMatchObject({ code: 0, signal: null });
    const text = output(sandbox);
    expect(text).not.toMatch(CREDENTIAL);
    for (const name of ['COMPONENT_APPSECRET', 'COMPONENT_TOKEN', 'COMPONENT_ENCODING_AES_KEY']) {
      expect(text).not.toContain(secret[name as keyof typeof secret]);
    }
  });
});

describe('npm start, the timer and the port', () => {
  let sandbox: SandboxProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    sandbox = start({ PORT: String(port), REFRESH_INTERVAL_MS: '200' });
    await sandbox.waitFor(READY);
  });

  it('runs the scheduled refresh on REFRESH_INTERVAL_MS, one summary line per run', async () => {
    await sandbox.waitFor(/scheduled refresh finished[\s\S]*scheduled refresh finished/);
    const lines = sandbox.stdout().split('\n');
    const summaries = lines.filter((line) => line.includes('scheduled refresh finished'));
    expect(summaries.length).toBeGreaterThanOrEqual(2);
    expect(summaries[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}scheduled refresh finished /);
  });

  it('exits 1 with a clear message when the port is taken (here by the running sandbox)', async () => {
    const second = start({ PORT: String(port) });
    const exit = await second.exited;
    expect(exit).toEqual({ code: 1, signal: null });
    expect(second.stderr()).toContain(`sandbox: port ${port} is already in use; set PORT=`);
    expect(second.stdout()).not.toContain('listening on');
  });

  it('exits 1 with a clear message when the port is taken by anything else', async () => {
    const other: Server = createServer();
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const taken = (other.address() as { port: number }).port;
    try {
      const second = start({ PORT: String(taken) });
      expect(await second.exited).toEqual({ code: 1, signal: null });
      expect(second.stderr()).toContain(`port ${taken} is already in use; set PORT=`);
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('refuses an unusable configuration with every problem named, exit 1', async () => {
    const bad = start({ PORT: 'x', COMPONENT_ENCODING_AES_KEY: 'short', COMPONENT_APPID: 'nope' });
    expect(await bad.exited).toEqual({ code: 1, signal: null });
    expect(bad.stderr()).toContain('sandbox: invalid configuration:');
    expect(bad.stderr()).toContain('PORT must be an integer');
    expect(bad.stderr()).toContain('COMPONENT_ENCODING_AES_KEY must be 43 letters and digits');
    expect(bad.stderr()).toContain('COMPONENT_APPID must look like wx');
    expect(bad.stderr()).not.toContain('short');
  });

  it('stops on SIGINT with exit code 0', async () => {
    const exit = await sandbox.stop('SIGINT');
    expect(exit).toMatchObject({ code: 0, signal: null });
  });
});
