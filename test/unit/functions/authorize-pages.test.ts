import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { makeHandler as makeAuthorizeCallback } from '../../../functions/authorize-callback';
import { makeHandler as makeAuthorizePage } from '../../../functions/authorize-page';
import { createDeps } from '../../../functions/lib/deps';
import { exchangeAuthCode } from '../../../shared/authorization/auth-codes';
import { loadConfig } from '../../../shared/config';
import {
  TicketUnavailableError,
  WechatApiError,
  WechatUnavailableError,
} from '../../../shared/errors';
import type { ComponentApi } from '../../../shared/wechat/api-client';
import { httpEvent } from '../../support/events';
import { fakeComponentApi } from '../../support/fake-component-api';
import { recordingMetrics } from '../../support/recorders';
import { COMPONENT_APPID, OTHER_AUTHORIZER_APPID, T0 } from '../../support/test-ids';
import { tokenContext } from '../../support/token-context';

const MERCHANT = OTHER_AUTHORIZER_APPID;
const CHROME_EN = 'en-US,en;q=0.9,zh-CN;q=0.8';
const CHROME_ZH = 'zh-CN,zh;q=0.9,en;q=0.8';
const IPHONE_WECHAT =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47';
const lambdaContext = { getRemainingTimeInMillis: () => 10_000 } as unknown as Context;

const code = (n: number) => `queryauthcode@@@${String(n).padStart(4, '0')}${'A'.repeat(82)}`;

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/**
 * The two page handlers behind their HTTP error path, over the in-memory store (with a component token)
 * and a fake WeChat whose calls are counted by name.
 */
async function pages(options: { env?: Record<string, string>; api?: Partial<ComponentApi> } = {}) {
  const { store, clock, log } = await tokenContext();
  const calls: string[] = [];
  const methods: Partial<ComponentApi> = {
    apiCreatePreauthcode: async () => ({ pre_auth_code: 'preauthcode@@@xyz', expires_in: 600 }),
    apiQueryAuth: async () => ({
      authorization_info: {
        authorizer_appid: MERCHANT,
        authorizer_access_token: 'access',
        expires_in: 7200,
        authorizer_refresh_token: 'refresh',
        func_info: [1, 15, 999].map((id) => ({ funcscope_category: { id } })),
      },
    }),
    apiGetAuthorizerInfo: async () => ({
      authorizer_info: { nick_name: '<img src=x onerror=alert(1)>的小店' },
      authorization_info: { authorizer_appid: MERCHANT },
    }),
    ...options.api,
  };
  // Counts each call of a method of `methods` by name; any other method stays absent, so the fake rejects
  // it (uncounted).
  const counted = new Proxy(methods, {
    get(target, name) {
      const method: unknown = Reflect.get(target, name);
      if (!Object.hasOwn(target, name) || typeof method !== 'function') return method;
      return async (...args: unknown[]) => {
        calls.push(String(name));
        return Reflect.apply(method, undefined, args);
      };
    },
  });
  const api = fakeComponentApi(counted);
  const config = loadConfig({
    TOKEN_TABLE_NAME: 'tokens',
    COMPONENT_APPID,
    COMPONENT_SECRET_ID: 'component-secret',
    ...options.env,
  });
  const deps = createDeps(config, {
    store,
    api,
    secrets: async () => ({ componentAppSecret: 's', token: 't', encodingAesKey: 'k'.repeat(43) }),
    clock: () => clock.now,
    log,
    metrics: recordingMetrics(),
  });
  const getDeps = () => Promise.resolve(deps);
  const handlers = {
    '/authorize': makeAuthorizePage(getDeps),
    '/authorize/callback': makeAuthorizeCallback(getDeps),
  };
  const open = async (
    path: keyof typeof handlers,
    query: Record<string, string> = {},
    headers: Record<string, string> = {}
  ): Promise<Answer> => {
    const result = await handlers[path](httpEvent({ path, query, headers }), lambdaContext);
    return {
      status: result.statusCode ?? 0,
      body: result.body ?? '',
      headers: (result.headers ?? {}) as Record<string, string>,
    };
  };
  const callback = (authCode: string, headers: Record<string, string> = {}) =>
    open('/authorize/callback', { auth_code: authCode, expires_in: '600' }, headers);
  /** What the `authorized` push leaves when it comes first and its exchange is yet to run: the code, named. */
  const pushed = (authCode: string) =>
    store.putAuthCode({
      componentAppId: COMPONENT_APPID,
      code: authCode,
      source: 'push',
      authorizerAppId: MERCHANT,
      receivedAt: clock.now,
      expiresAt: clock.now + 600_000,
    });
  return { store, clock, log, calls, open, callback, pushed, deps };
}

const lang = (page: string) => /<html lang="([^"]+)">/.exec(page)?.[1];
const title = (page: string) => /<title>([^<]*)<\/title>/.exec(page)?.[1];
const status = (page: string) => /id="result" data-status="([^"]+)"/.exec(page)?.[1];
const permissions = (page: string) =>
  [...page.matchAll(/<li data-id="(\d+)">([^<]*)<\/li>/g)].map((m) => m[2]);

function expectSafePage(answer: Answer) {
  expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
  expect(answer.headers['cache-control']).toBe('no-store');
  expect(answer.headers.vary).toContain('Accept-Language');
  expect(answer.body).not.toMatch(/<script|<img|<[^>]*\son\w+=/i);
}

function expectStartAgain(answer: Answer, label: string) {
  expect(answer.body).toContain(
    `<a class="button" id="start-again" href="/authorize">${label}</a>`
  );
}

describe('GET /authorize: the entry page', () => {
  it('is in Chinese by default, names the platform (escaped), and puts the computer link first', async () => {
    const p = await pages({ env: { PLATFORM_DISPLAY_NAME: '示例 <b>科技</b> & "Co"' } });

    const answer = await p.open('/authorize');

    expect(answer.status).toBe(200);
    expectSafePage(answer);
    expect(answer.headers.vary).toBe('Accept-Language, User-Agent');
    expect(lang(answer.body)).toBe('zh-CN');
    const escaped = '示例 &lt;b&gt;科技&lt;/b&gt; &amp; &quot;Co&quot;';
    expect(title(answer.body)).toBe(`授权给${escaped} · ${escaped}`);
    expect(answer.body).toContain(`<p class="brand">${escaped}</p>`);
    expect(answer.body).not.toContain('<b>');
    expect(answer.body).toContain('在电脑上授权（微信扫码）');
    expect(answer.body).toContain('约 10 分钟后失效');
    expect(answer.body.indexOf('id="authorize-pc"')).toBeLessThan(
      answer.body.indexOf('id="authorize-h5"')
    );
    expect(answer.body).toContain('<a class="button" id="authorize-pc"');
    expect(p.calls).toEqual(['apiCreatePreauthcode']);
  });

  it('is in English when the browser prefers English, and says "this platform" without a name', async () => {
    const p = await pages();

    const answer = await p.open('/authorize', {}, { 'accept-language': CHROME_EN });

    expect(lang(answer.body)).toBe('en');
    expect(title(answer.body)).toBe('Authorize this platform on WeChat');
    expect(answer.body).not.toContain('class="brand"');
    expect(answer.body).toContain('Authorize on a computer (scan a QR code)');
    expect(answer.body).toContain('expires in about 10 minutes');
  });

  it.each([
    ['zh-CN', CHROME_ZH, '在手机微信中授权'],
    ['en', CHROME_EN, 'Authorize in WeChat on a phone'],
  ])(
    'puts the phone link first, as the main button, on a phone (%s)',
    async (language, header, label) => {
      const p = await pages();

      const answer = await p.open(
        '/authorize',
        {},
        { 'accept-language': header, 'user-agent': IPHONE_WECHAT }
      );

      expect(lang(answer.body)).toBe(language);
      expect(answer.body.indexOf('id="authorize-h5"')).toBeLessThan(
        answer.body.indexOf('id="authorize-pc"')
      );
      expect(answer.body).toMatch(
        new RegExp(`<a class="button" id="authorize-h5" href="[^"]+">${label}</a>`)
      );
      expect(answer.body).toContain('<a class="button secondary" id="authorize-pc"');
    }
  );
});

describe('GET /authorize/callback: the result pages', () => {
  it('names the account (escaped) and its permission sets by name, in Chinese and in English', async () => {
    const p = await pages({ env: { PLATFORM_DISPLAY_NAME: '示例科技' } });

    await p.pushed(code(1));
    const zh = await p.callback(code(1));
    const en = await p.callback(code(1), { 'accept-language': CHROME_EN });

    expect(zh.status).toBe(200);
    expectSafePage(zh);
    expect(status(zh.body)).toBe('authorized');
    expect(title(zh.body)).toBe('授权成功 · 示例科技');
    expect(zh.body).toContain(
      `「&lt;img src=x onerror=alert(1)&gt;的小店」（<code>${MERCHANT}</code>）已授权给示例科技。`
    );
    expect(permissions(zh.body)).toEqual(['消息管理权限', '自定义菜单权限', '权限集 999']);
    expect(en.status).toBe(200);
    expectSafePage(en);
    expect(title(en.body)).toBe('Authorization complete · 示例科技');
    expect(en.body).toContain(`(<code>${MERCHANT}</code>) is now authorized for 示例科技.`);
    expect(permissions(en.body)).toEqual([
      'Message management',
      'Custom menu',
      'Permission set 999',
    ]);
    expect(p.calls).toEqual(['apiQueryAuth', 'apiGetAuthorizerInfo', 'apiGetAuthorizerInfo']);
  });

  it('still shows the success, by appid, when api_get_authorizer_info fails', async () => {
    const p = await pages({
      api: {
        apiGetAuthorizerInfo: async () => {
          throw new WechatUnavailableError('api_get_authorizer_info', 'timed out');
        },
      },
    });

    await p.pushed(code(1));
    const answer = await p.callback(code(1));

    expect(answer.status).toBe(200);
    expect(status(answer.body)).toBe('authorized');
    expect(answer.body).toContain(`帐号 <code>${MERCHANT}</code> 已授权给本平台。`);
    expect(p.log.entries.map((e) => e.message)).toContain(
      'account name unavailable; the result page names the appid only'
    );
  });

  it.each([
    ['zh-CN', CHROME_ZH, '已授权，但该帐号没有接口权限', '完成微信认证', '开始重新授权'],
    [
      'en',
      CHROME_EN,
      'Authorized, but the account has no API permission',
      'complete WeChat verification',
      'Start again',
    ],
  ])(
    'tells the admin of an account without API permission what to do (%s)',
    async (language, header, heading, advice, again) => {
      const p = await pages({
        api: {
          apiQueryAuth: async () => ({
            authorization_info: {
              authorizer_appid: MERCHANT,
              func_info: [{ funcscope_category: { id: 1 } }],
            },
          }),
        },
      });

      await p.pushed(code(1));
      const answer = await p.callback(code(1), { 'accept-language': header });

      expect(answer.status).toBe(200);
      expectSafePage(answer);
      expect(lang(answer.body)).toBe(language);
      expect(status(answer.body)).toBe('without_api_permission');
      expect(title(answer.body)).toBe(heading);
      expect(answer.body).toContain('&lt;img src=x onerror=alert(1)&gt;的小店');
      expect(answer.body).toContain(advice);
      expect(answer.body).toContain('mp.weixin.qq.com');
      expectStartAgain(answer, again);
    }
  );

  it.each([
    ['zh-CN', CHROME_ZH, '授权链接已失效', '开始重新授权'],
    ['en', CHROME_EN, 'This authorization link has expired', 'Start again'],
  ])(
    'offers to start again when the code expired (%s)',
    async (language, header, heading, again) => {
      const p = await pages({
        api: {
          apiQueryAuth: async () => {
            throw new WechatApiError(
              'api_query_auth',
              61010,
              'code is expired',
              'auth_code_invalid'
            );
          },
          // The pushed code's authorizer is asked instead (it may have been consumed): not authorized.
          apiGetAuthorizerInfo: async () => {
            throw new WechatApiError(
              'api_get_authorizer_info',
              61003,
              'component is not authorized by this account',
              'not_authorized'
            );
          },
        },
      });

      await p.pushed(code(1));
      const answer = await p.callback(code(1), { 'accept-language': header });

      expect(answer.status).toBe(400);
      expectSafePage(answer);
      expect(lang(answer.body)).toBe(language);
      expect(status(answer.body)).toBe('expired');
      expect(title(answer.body)).toBe(heading);
      expectStartAgain(answer, again);
    }
  );

  it.each([
    ['queryauthcode@@@short', 'auth_code is malformed'],
    [`preauthcode@@@${'A'.repeat(86)}`, 'auth_code is malformed'],
    [`QUERYAUTHCODE@@@${'A'.repeat(86)}`, 'auth_code is malformed'],
    [`queryauthcode@@@${'A'.repeat(80)}+/=`, 'auth_code is malformed'],
    [`queryauthcode@@@${'A'.repeat(80)}.~`, 'auth_code is malformed'],
    [`queryauthcode@@@${'A'.repeat(257)}`, 'auth_code is malformed'],
    [
      `queryauthcode@@@${'A'.repeat(86)},queryauthcode@@@${'B'.repeat(86)}`,
      'auth_code is malformed',
    ],
    ['null', 'auth_code is malformed'],
  ])('refuses %s before any write or WeChat call', async (authCode, detail) => {
    const p = await pages();

    const zh = await p.callback(authCode);
    const en = await p.callback(authCode, { 'accept-language': CHROME_EN });

    expect(zh.status).toBe(400);
    expectSafePage(zh);
    expect(title(zh.body)).toBe('链接无效');
    expect(zh.body).toContain(`详情：<span lang="en">${detail}</span>`);
    expectStartAgain(zh, '开始重新授权');
    expect(title(en.body)).toBe('This link is not valid');
    expectStartAgain(en, 'Start again');
    expect(p.calls).toEqual([]);
    expect(p.store.authCodes.size).toBe(0);
    expect(p.store.budgets.size).toBe(0);
  });

  it.each([
    [{}, 'expires_in is missing'],
    [{ expires_in: '0' }, 'expires_in is malformed'],
    [{ expires_in: '600s' }, 'expires_in is malformed'],
    [{ expires_in: '123456' }, 'expires_in is malformed'],
  ])('refuses a well-shaped code with %j before any write', async (query, detail) => {
    const p = await pages();

    const answer = await p.open('/authorize/callback', { auth_code: code(1), ...query });

    expect(answer.status).toBe(400);
    expect(answer.body).toContain(detail);
    expect(p.calls).toEqual([]);
    expect(p.store.authCodes.size).toBe(0);
    expect(p.store.budgets.size).toBe(0);
  });

  it('shows a pending page while the exchange is retried', async () => {
    const p = await pages({
      api: {
        apiQueryAuth: async () => {
          throw new WechatApiError('api_query_auth', -1, 'system error', 'busy');
        },
      },
    });

    await p.pushed(code(1));
    const answer = await p.callback(code(1), { 'accept-language': CHROME_EN });

    expect(answer.status).toBe(202);
    expect(status(answer.body)).toBe('pending');
    expect(title(answer.body)).toBe('Authorization received');
  });

  it('holds a code no push has named (it may be an active merchant’s): no api_query_auth, a pending page', async () => {
    const p = await pages();

    const answer = await p.callback(code(1), { 'accept-language': CHROME_EN });

    expect(answer.status).toBe(202);
    expect(status(answer.body)).toBe('pending');
    expect(p.calls).toEqual([]);
    expect(await p.store.getAuthCode(COMPONENT_APPID, code(1))).toMatchObject({
      status: 'pending',
      outcomeCode: 'auth_code_awaiting_push',
    });
    expect(await p.store.getAuthCode(COMPONENT_APPID, code(1))).not.toHaveProperty('uncertainAt');
  });

  it('shows the result when the push settles the held code while the page waits', async () => {
    const p = await pages();
    // WeChat's push, 300 ms after the redirect: it names the authorizer and exchanges the code.
    const settled = new Promise((resolve) => setTimeout(resolve, 300)).then(() =>
      exchangeAuthCode(p.deps, {
        code: code(1),
        source: 'push',
        authorizerAppId: MERCHANT,
        receivedAt: p.clock.now,
        expiresAt: p.clock.now + 600_000,
      })
    );

    const answer = await p.callback(code(1));

    expect(await settled).toEqual({ status: 'exchanged', authorizerAppId: MERCHANT });
    expect(answer.status).toBe(200);
    expect(status(answer.body)).toBe('authorized');
    expect(p.calls).toEqual(['apiQueryAuth', 'apiGetAuthorizerInfo']);
  });
});

describe('the routes’ WeChat budgets', () => {
  it('answers the entry page past its per-minute budget with a busy page, calling nobody, until the minute ends', async () => {
    const p = await pages({ env: { PUBLIC_ROUTE_BUDGET_PER_MINUTE: '2' } });
    p.clock.now = T0 + 45_000;

    const answers = [];
    for (let i = 0; i < 4; i += 1) answers.push(await p.open('/authorize'));
    const english = await p.open('/authorize', {}, { 'accept-language': CHROME_EN });

    expect(answers.map((a) => a.status)).toEqual([200, 200, 429, 429]);
    expect(p.calls).toEqual(['apiCreatePreauthcode', 'apiCreatePreauthcode']);
    const busy = answers[2] as Answer;
    expectSafePage(busy);
    expect(busy.headers['retry-after']).toBe('15');
    expect(status(busy.body)).toBe('busy');
    expect(title(busy.body)).toBe('访问人数较多，请一分钟后再试');
    expectStartAgain(busy, '开始重新授权');
    expect(title(english.body)).toBe('Busy: try again in a minute');
    expect(english.body).toContain('Reload this page in a minute');

    p.clock.now = T0 + 60_000;
    expect((await p.open('/authorize')).status).toBe(200);
    expect(p.calls).toHaveLength(3);
  });

  it('answers the callback past its budget with a busy page, storing nothing', async () => {
    const p = await pages({ env: { PUBLIC_ROUTE_BUDGET_PER_MINUTE: '1' } });

    await p.pushed(code(1));
    const first = await p.callback(code(1));
    const second = await p.callback(code(2), { 'accept-language': CHROME_EN });

    expect(first.status).toBe(200);
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('60');
    expect(second.body).toContain('may already have completed');
    expect(p.calls).toEqual(['apiQueryAuth', 'apiGetAuthorizerInfo']);
    expect(await p.store.getAuthCode(COMPONENT_APPID, code(2))).toBeUndefined();
  });

  it('shows an exchanged code’s result past the budget, without asking WeChat for the name', async () => {
    const p = await pages({ env: { PUBLIC_ROUTE_BUDGET_PER_MINUTE: '1' } });
    await p.pushed(code(1));
    await p.callback(code(1));

    const again = await p.callback(code(1));

    expect(again.status).toBe(200);
    expect(status(again.body)).toBe('authorized');
    expect(again.body).toContain(`帐号 <code>${MERCHANT}</code> 已授权给本平台。`);
    expect(p.calls).toEqual(['apiQueryAuth', 'apiGetAuthorizerInfo']);
  });

  it('closes a route for the rest of the Beijing day once its daily budget is spent', async () => {
    const p = await pages({
      env: { PUBLIC_ROUTE_BUDGET_PER_MINUTE: '5', PUBLIC_ROUTE_BUDGET_PER_DAY: '2' },
    });

    await p.open('/authorize');
    p.clock.now += 60_000;
    await p.open('/authorize');
    p.clock.now += 60_000;
    const closed = await p.open('/authorize', {}, { 'accept-language': CHROME_EN });

    expect(closed.status).toBe(429);
    expect(title(closed.body)).toBe('No more authorizations today');
    // T0 is 16:00 in Beijing (08:00 UTC): the day's quota restarts in 8 hours, less the 2 minutes.
    expect(closed.headers['retry-after']).toBe(String(8 * 3600 - 120));
    expect(p.calls).toHaveLength(2);
  });
});

describe('error pages', () => {
  it.each([
    ['zh-CN', CHROME_ZH, '服务尚未就绪', '开始重新授权'],
    ['en', CHROME_EN, 'Not ready yet', 'Start again'],
  ])(
    'explain a missing ticket and offer to start again (%s)',
    async (language, header, heading, again) => {
      const p = await pages({
        api: {
          apiCreatePreauthcode: async () => {
            throw new TicketUnavailableError('no component_verify_ticket yet');
          },
        },
      });

      const answer = await p.open('/authorize', {}, { 'accept-language': header });

      expect(answer.status).toBe(503);
      expectSafePage(answer);
      expect(answer.headers['retry-after']).toBe('300');
      expect(lang(answer.body)).toBe(language);
      expect(title(answer.body)).toBe(heading);
      expect(answer.body).toContain('component_verify_ticket');
      expect(answer.body).not.toContain('class="muted">');
      expectStartAgain(answer, again);
    }
  );

  it('explain a bad query in the viewer’s language, with the service’s message as a detail', async () => {
    const p = await pages({ env: { PLATFORM_DISPLAY_NAME: '示例科技' } });

    const answer = await p.open(
      '/authorize',
      { auth_type: '99' },
      { 'accept-language': CHROME_EN }
    );

    expect(answer.status).toBe(400);
    expect(lang(answer.body)).toBe('en');
    expect(title(answer.body)).toBe('This link is not valid · 示例科技');
    expect(answer.body).toContain('Details: <span lang="en">auth_type must be one of');
    expectStartAgain(answer, 'Start again');
    expect(p.store.budgets.size).toBe(0);
  });

  it('are in Chinese, without a platform name, when the configuration cannot be read', async () => {
    const handler = makeAuthorizePage(() => Promise.reject(new Error('no config')));

    const result = await handler(httpEvent({ path: '/authorize' }), lambdaContext);

    expect(result.statusCode).toBe(500);
    expect(lang(result.body ?? '')).toBe('zh-CN');
    expect(title(result.body ?? '')).toBe('服务暂时不可用');
    expect(result.body).toContain('请联系本平台');
    expect(result.body).toContain('开始重新授权');
  });
});
