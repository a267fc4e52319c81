import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo';
import { walkAuthorization } from '../support/browser';
import { AUTHORIZER_APPID, COMPONENT_APPID } from '../support/test-ids';
import { freePort, postJson, type SandboxProcess, spawnSandbox } from './sandbox-process';

/**
 * Two `npm start` processes on one outside DynamoDB (`DYNAMODB_ENDPOINT`): the first with its simulator,
 * the second using the first's simulator as its WeChat (`WECHAT_API_BASE_URL`, same appid and secret).
 * They share every record, and their refresh leases meet in the one table: concurrent refreshes through
 * both make one WeChat call.
 */
const READY = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m;
const TABLE = 'e2e-shared-tokens';
const SECRET = {
  COMPONENT_APPID,
  COMPONENT_APPSECRET: 'e2eSharedAppSecret0123456789abcdef',
  COMPONENT_TOKEN: 'e2eSharedToken0042',
  COMPONENT_ENCODING_AES_KEY: 'e2eSharedKey0123456789abcdefghijklmnopqrstu',
};

let dynamo: LocalDynamo;
const running: SandboxProcess[] = [];
let first: SandboxProcess;
let second: SandboxProcess;
let firstUrl: string;
let secondUrl: string;
let simulatorUrl: string;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  const store = { DYNAMODB_ENDPOINT: dynamo.endpoint, TOKEN_TABLE_NAME: TABLE };
  first = spawnSandbox({
    ...SECRET,
    ...store,
    PORT: String(await freePort()),
    REFRESH_INTERVAL_MS: '0',
  });
  running.push(first);
  firstUrl = (await first.waitFor(READY))[1] as string;
  simulatorUrl = (
    await first.waitFor(/WeChat simulator +(http:\/\/127\.0\.0\.1:\d+)/)
  )[1] as string;
  second = spawnSandbox({
    ...SECRET,
    ...store,
    PORT: String(await freePort()),
    REFRESH_INTERVAL_MS: '0',
    WECHAT_API_BASE_URL: simulatorUrl,
  });
  running.push(second);
  secondUrl = (await second.waitFor(READY))[1] as string;
});

afterAll(async () => {
  for (const sandbox of running) sandbox.kill();
  await dynamo?.close();
});

/** Calls of `api` the first sandbox's simulator has received. */
async function wechatCalls(api: string): Promise<number> {
  const response = await fetch(`${firstUrl}/local/wechat-calls`);
  const { calls } = (await response.json()) as { calls: Record<string, number> };
  return calls[api] ?? 0;
}

/** Polls get-token until it answers a token (the first ticket may still be on its way). */
async function componentToken(url: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const { json } = await postJson(`${url}/local/token`, { component: true });
    if (json.accessToken || Date.now() > deadline) return json;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('two sandboxes on one DYNAMODB_ENDPOINT', () => {
  it('the first creates the token table, the second finds it', () => {
    expect(first.stdout()).toContain(
      `  token table         ${TABLE} at ${dynamo.endpoint} (created)`
    );
    expect(second.stdout()).toContain(
      `  token table         ${TABLE} at ${dynamo.endpoint} (existing)`
    );
    expect(second.stdout()).toContain('  WeChat (external)   ');
  });

  it('a component token minted through one is served by the other', async () => {
    const minted = await componentToken(firstUrl);
    expect(minted).toMatchObject({
      appId: SECRET.COMPONENT_APPID,
      accessToken: expect.any(String),
    });
    const served = await postJson(`${secondUrl}/local/token`, { component: true });
    expect(served.json).toEqual(minted);
  });

  it('a merchant authorized through one gets the same token from both, and one WeChat call renews it for all', async () => {
    const walk = await walkAuthorization(firstUrl, { authorizerAppId: AUTHORIZER_APPID });
    expect(walk.callbackHtml).toContain('data-status="authorized"');
    const viaFirst = await postJson(`${firstUrl}/local/token`, {
      authorizerAppId: AUTHORIZER_APPID,
    });
    const viaSecond = await postJson(`${secondUrl}/local/token`, {
      authorizerAppId: AUTHORIZER_APPID,
    });
    expect(viaFirst.json).toMatchObject({
      appId: AUTHORIZER_APPID,
      accessToken: expect.any(String),
    });
    expect(viaSecond.json).toEqual(viaFirst.json);
    const rejected = viaFirst.json.accessToken as string;

    // Another holder of the refresh token renews at WeChat, then both sandboxes' clocks (and the
    // simulator's, which follows the first's) move 6 minutes on: WeChat now rejects the stored token.
    // Nothing is due yet, so nothing renews by itself.
    const renewed = await fetch(
      `${simulatorUrl}/simulator/renew-elsewhere?authorizer_appid=${AUTHORIZER_APPID}`,
      { method: 'POST' }
    );
    expect(renewed.status).toBe(200);
    const before = await wechatCalls('api_authorizer_token');
    for (const url of [firstUrl, secondUrl]) {
      expect((await postJson(`${url}/local/clock`, { advanceMs: 360_000 })).status).toBe(200);
    }
    expect(await wechatCalls('api_authorizer_token')).toBe(before);

    // WeChat rejected the token: callers everywhere report it at once, through both sandboxes. One
    // check proves it dead, one renewal follows.
    const checksBefore = await wechatCalls('getApiQuota');
    const reports = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        postJson(`${i % 2 ? secondUrl : firstUrl}/local/token`, {
          authorizerAppId: AUTHORIZER_APPID,
          invalidToken: rejected,
        })
      )
    );
    expect(await wechatCalls('api_authorizer_token')).toBe(before + 1);
    expect(await wechatCalls('getApiQuota')).toBe(checksBefore + 1);
    const replacement = reports[0]?.json.accessToken;
    expect(replacement).toEqual(expect.any(String));
    expect(replacement).not.toBe(rejected);
    for (const report of reports) {
      expect(report).toMatchObject({
        status: 200,
        json: { appId: AUTHORIZER_APPID, accessToken: replacement },
      });
    }
  });

  it('both stop on SIGINT with exit code 0', async () => {
    expect(await first.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(await second.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });
});
