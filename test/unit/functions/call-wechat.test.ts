import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createHandler, MAX_ANSWER_BYTES } from '../../../functions/call-wechat';
import type { Deps } from '../../../functions/lib/deps';
import type { RelayAnswer, RelayRequest } from '../../../shared/egress/wechat-relay';
import { WechatApiError, WechatUnavailableError } from '../../../shared/errors';
import { MemoryTokenStore } from '../../support/memory-token-store';
import type { RecordedMetrics } from '../../support/recorders';
import { AUTHORIZER_APPID as A, COMPONENT_APPID as C, T0 } from '../../support/test-ids';
import { handlerDeps, storeComponentToken } from '../../support/token-context';

const ok = (body: object): RelayAnswer => ({
  status: 200,
  contentType: 'application/json; charset=utf-8',
  body,
  errcode: 0,
});
const rejected: RelayAnswer = {
  status: 200,
  contentType: 'application/json',
  body: { errcode: 40001, errmsg: 'invalid credential' },
  errcode: 40001,
};

/** A store with the component token and one authorizer whose token is `access-1`. */
async function storeWithTokens() {
  const store = new MemoryTokenStore();
  await storeComponentToken(store, 'component-token');
  await store.saveAuthorization(
    {
      componentAppId: C,
      authorizerAppId: A,
      accessToken: 'access-1',
      expiresAt: T0 + 3_600_000,
      refreshToken: 'refresh-1',
      funcInfo: [1],
      refreshAt: T0 + 2_700_000,
      authorizedAt: T0 - 60_000,
    },
    T0 - 60_000
  );
  return store;
}

/** The handler over a relay that answers `answers` in turn and records what it was asked to send. */
async function setup(answers: (RelayAnswer | Error | 'hang')[], api: Partial<Deps['api']> = {}) {
  const store = await storeWithTokens();
  const sent: RelayRequest[] = [];
  const deps: Deps = {
    ...handlerDeps(store, api, T0),
    relay: {
      send: async (request) => {
        sent.push(request);
        const next = answers.shift();
        if (next === undefined) throw new Error('no more answers');
        if (next === 'hang') return new Promise<RelayAnswer>(() => undefined);
        if (next instanceof Error) throw next;
        return next;
      },
    },
  };
  return { handler: createHandler(async () => deps), sent, store, deps };
}

const remaining = (ms: number) => ({ getRemainingTimeInMillis: () => ms });

describe('call-wechat', () => {
  it('sends an authorizer’s call with its token and hands back WeChat’s answer as it came', async () => {
    const { handler, sent, deps } = await setup([ok({ errcode: 0, errmsg: 'ok', openid: 'o1' })]);
    const answer = await handler({
      authorizerAppId: A,
      path: '/cgi-bin/user/info',
      query: { openid: 'o1', lang: 'zh_CN' },
    });
    expect(answer).toEqual({
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: { errcode: 0, errmsg: 'ok', openid: 'o1' },
    });
    expect(sent).toEqual([
      {
        method: 'GET',
        path: '/cgi-bin/user/info',
        query: { openid: 'o1', lang: 'zh_CN', access_token: 'access-1' },
      },
    ]);
    const metrics = deps.metrics as RecordedMetrics;
    expect(metrics.total('WechatCallRelayed')).toBe(1);
    expect(metrics.counts.get('WechatCallRelayed@/cgi-bin/user/info')).toBe(1);
  });

  it('adds the component token and our component_appid to the platform’s own calls', async () => {
    const { handler, sent } = await setup([ok({ openid: 'o', session_key: 'k' })]);
    await handler({
      component: true,
      path: '/sns/component/jscode2session',
      query: { appid: A, js_code: 'code', grant_type: 'authorization_code' },
    });
    expect(sent[0]?.query).toEqual({
      appid: A,
      js_code: 'code',
      grant_type: 'authorization_code',
      component_appid: C,
      component_access_token: 'component-token',
    });
  });

  it('passes binary answers and WeChat’s own errors through untouched', async () => {
    const image: RelayAnswer = { status: 200, contentType: 'image/jpeg', bodyBase64: '/9j/4AAQ' };
    const quota = {
      status: 200,
      contentType: 'application/json',
      body: { errcode: 45009, errmsg: 'reach max api daily quota limit' },
      errcode: 45009,
    };
    const { handler } = await setup([image, quota]);
    const request = { authorizerAppId: A, path: '/wxa/getwxacodeunlimit', body: { scene: 'a' } };
    expect(await handler(request)).toEqual({
      status: 200,
      contentType: 'image/jpeg',
      bodyBase64: '/9j/4AAQ',
    });
    expect(await handler(request)).toEqual({
      status: 200,
      contentType: 'application/json',
      body: { errcode: 45009, errmsg: 'reach max api daily quota limit' },
    });
  });

  it('answers payload_too_large instead of an answer Lambda could not return', async () => {
    const huge: RelayAnswer = {
      status: 200,
      contentType: 'video/mp4',
      bodyBase64: 'A'.repeat(MAX_ANSWER_BYTES),
    };
    const { handler } = await setup([huge]);
    expect(
      await handler({ authorizerAppId: A, path: '/cgi-bin/media/get', query: { media_id: 'm' } })
    ).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  it('heals a token WeChat rejects mid-call: one check, one renewal, one retry with the new token', async () => {
    const calls: string[] = [];
    const { handler, sent, store } = await setup([rejected, ok({ errcode: 0 })], {
      getApiQuota: async () => {
        calls.push('getApiQuota');
        throw new WechatApiError('getApiQuota', 40001, 'invalid credential', 'token_invalid');
      },
      apiAuthorizerToken: async () => {
        calls.push('api_authorizer_token');
        return { authorizer_access_token: 'access-2', expires_in: 7200 };
      },
    });
    expect(await handler({ authorizerAppId: A, path: '/cgi-bin/user/info' })).toMatchObject({
      body: { errcode: 0 },
    });
    expect(calls).toEqual(['getApiQuota', 'api_authorizer_token']);
    expect(sent.map((r) => r.query.access_token)).toEqual(['access-1', 'access-2']);
    expect(await store.getAuthorizer(C, A)).toMatchObject({ accessToken: 'access-2' });
  });

  it('retries at most once, and not at all when the check finds the token alive', async () => {
    const twice = await setup([rejected, rejected, ok({})], {
      getApiQuota: async () => {
        throw new WechatApiError('getApiQuota', 40001, 'invalid credential', 'token_invalid');
      },
      apiAuthorizerToken: async () => ({ authorizer_access_token: 'access-2', expires_in: 7200 }),
    });
    expect(await twice.handler({ authorizerAppId: A, path: '/cgi-bin/user/info' })).toMatchObject({
      body: { errcode: 40001 },
    });
    expect(twice.sent).toHaveLength(2);

    const alive = await setup([rejected], {
      getApiQuota: async () => ({ quota: { daily_limit: 1, used: 0, remain: 1 } }),
    });
    expect(await alive.handler({ authorizerAppId: A, path: '/cgi-bin/user/info' })).toMatchObject({
      body: { errcode: 40001 },
    });
    expect(alive.sent).toHaveLength(1);
  });

  it('refuses every hostile path before anything leaves', async () => {
    const corpus = JSON.parse(
      readFileSync(new URL('../../fixtures/hostile-paths.json', import.meta.url), 'utf8')
    ) as { path: string }[];
    const { handler, sent } = await setup([]);
    for (const { path } of corpus) {
      expect(await handler({ authorizerAppId: A, path })).toMatchObject({
        error: { code: 'invalid_request' },
      });
    }
    expect(corpus.length).toBeGreaterThan(40);
    expect(sent).toEqual([]);
  });

  it('answers the token’s own errors with get-token’s codes', async () => {
    const { handler, sent } = await setup([]);
    expect(
      await handler({ authorizerAppId: 'wxunknown00000001', path: '/cgi-bin/user/info' })
    ).toMatchObject({ error: { code: 'authorizer_not_found' } });
    expect(sent).toEqual([]);
  });

  it('says a call WeChat did not answer may have been processed, and answers before its deadline', async () => {
    const lost = await setup([new WechatUnavailableError('/cgi-bin/message/custom/send', 'reset')]);
    const answer = await lost.handler({
      authorizerAppId: A,
      path: '/cgi-bin/message/custom/send',
      body: { touser: 'o1', msgtype: 'text', text: { content: 'hi' } },
    });
    expect(answer).toMatchObject({ error: { code: 'upstream_unavailable' } });
    expect(JSON.stringify(answer)).toContain('may have been processed');

    // WeChat never answers: an answer at all is the deadline kept.
    const hung = await setup(['hang']);
    expect(
      await hung.handler({ authorizerAppId: A, path: '/cgi-bin/user/info' }, remaining(1500))
    ).toMatchObject({ error: { code: 'upstream_unavailable', message: expect.any(String) } });
  });
});
