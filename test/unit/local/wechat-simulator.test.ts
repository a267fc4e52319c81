import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { WALKTHROUGH_APPID } from '../../../local/simulator/pages';
import { WechatApiError } from '../../../shared/errors';
import { HttpComponentApi } from '../../../shared/wechat/api-client';
import { parseRequestIp } from '../../../shared/wechat/errcodes';
import {
  ApiPath,
  type ApiQuotaResponse,
  type AuthorizerInfoResponse,
  type AuthorizerListResponse,
  type AuthorizerTokenResponse,
  type ComponentTokenResponse,
  type PreAuthCodeResponse,
  type QueryAuthResponse,
  type WechatErrorBody,
} from '../../../shared/wechat/wire';
import {
  AUTHORIZER_APPID,
  authorizerAppId,
  COMPONENT_APPID,
  MINUTE,
  OTHER_AUTHORIZER_APPID,
  OTHER_COMPONENT_APPID,
} from '../../support/test-ids';
import {
  decrypt,
  EGRESS,
  type Received,
  RID,
  SECRET,
  tag,
  useSimulatorFixture,
  withToken,
} from './wechat-simulator-fixture';

const f = useSimulatorFixture();
const { call, componentToken, received, start } = f;

// --- tests ---------------------------------------------------------------------------------------------

describe('pushes to the authorization event URL', () => {
  it('pushes a component_verify_ticket that decrypts with MsgCrypto to the documented XML', async () => {
    const result = await f.sim.pushTicket();

    expect(result).toMatchObject({ status: 200, body: 'success' });
    expect(result.ticket).toMatch(/^ticket@@@[\w-]{60,}$/);
    expect(received).toHaveLength(1);
    const push = received[0] as Received;
    expect(push.url.startsWith('/wechat/events?signature=')).toBe(true);
    expect(push.headers['content-type']).toBe('text/xml');
    expect(push.body).toMatch(
      new RegExp(
        `^<xml><AppId><!\\[CDATA\\[${COMPONENT_APPID}\\]\\]></AppId><Encrypt><!\\[CDATA\\[`
      )
    );
    const createTime = Math.floor(f.now / 1000);
    expect(new URL(push.url, 'http://x').searchParams.get('timestamp')).toBe(String(createTime));
    expect(decrypt(push)).toBe(
      `<xml><AppId><![CDATA[${COMPONENT_APPID}]]></AppId><CreateTime>${createTime}</CreateTime>` +
        '<InfoType><![CDATA[component_verify_ticket]]></InfoType>' +
        `<ComponentVerifyTicket><![CDATA[${result.ticket}]]></ComponentVerifyTicket></xml>`
    );
    expect(f.sim.pushes).toMatchObject([
      { infoType: 'component_verify_ticket', status: 200, body: 'success' },
    ]);
    expect(f.sim.state.latestTicket).toBe(result.ticket);
  });

  it('records instead of throwing when no eventUrl is set or the service is down', async () => {
    f.sim.setEventUrl(undefined);
    await expect(f.sim.pushTicket()).resolves.toMatchObject({ status: 0, body: '' });
    f.sim.setEventUrl('http://127.0.0.1:1/wechat/events');
    await expect(f.sim.pushUnauthorized(authorizerAppId(11))).resolves.toEqual({
      status: 0,
      body: '',
    });
    expect(f.sim.pushes.map((p) => [p.infoType, p.status, !!p.error])).toEqual([
      ['component_verify_ticket', 0, true],
      ['unauthorized', 0, true],
    ]);
    expect(f.sim.pushes[0]?.error).toBe('no eventUrl set');
    expect(received).toHaveLength(0);
  });

  it('pushes tickets on a timer as the simulator clock passes the interval, not while stopped', async () => {
    const timed = await start({ ticketIntervalMs: 20 });
    const waitFor = async (count: number) => {
      const deadline = Date.now() + 2000;
      while (received.length < count && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    f.now += 20;
    await waitFor(1);
    expect(received.length).toBe(1);
    f.now += 20;
    await waitFor(2);
    expect(received.length).toBe(2);
    timed.stopPushes();
    await timed.flushPushes();
    f.now += 60;
    await new Promise((r) => setTimeout(r, 60));
    expect(received.length).toBe(2);
    expect(timed.state.pushesStopped).toBe(true);
  });

  it('api_start_push_ticket checks the secret, answers ok / in a normal state, and pushes a ticket', async () => {
    const body = { component_appid: COMPONENT_APPID, component_secret: SECRET };
    expect((await call('api_start_push_ticket', { ...body, component_secret: 'x' })).json).toEqual(
      expect.objectContaining({ errcode: 40125 })
    );
    expect(
      (await call('api_start_push_ticket', { ...body, component_appid: 'wx0' })).json.errcode
    ).toBe(40013);
    f.sim.stopPushes();
    expect((await call('api_start_push_ticket', body)).json).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(f.sim.state.pushesStopped).toBe(false);
    expect((await call('api_start_push_ticket', body)).json).toEqual({
      errcode: 0,
      errmsg: 'in a normal state',
    });
    await f.sim.flushPushes();
    expect(received.length).toBe(2);
    expect(tag(decrypt(received[0] as Received), 'InfoType')).toBe('component_verify_ticket');
  });
});

describe('api_component_token and the component token check', () => {
  it('mints a token from a pushed ticket; 40125, 40013, 41002, 61006, 61005, 47001, 43002', async () => {
    const { ticket } = await f.sim.pushTicket();
    const good = {
      component_appid: COMPONENT_APPID,
      component_appsecret: SECRET,
      component_verify_ticket: ticket,
    };
    const ok = await call<ComponentTokenResponse>('api_component_token', good);
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ component_access_token: expect.any(String), expires_in: 7200 });
    expect(ok.json.component_access_token).toMatch(/^[\w-]{80,}$/);

    const errcode = async (body: unknown) => (await call('api_component_token', body)).json;
    expect(await errcode({ ...good, component_appsecret: 'wrong' })).toEqual({
      errcode: 40125,
      errmsg: expect.stringMatching(/^invalid appsecret rid: /),
    });
    expect((await errcode({ ...good, component_appid: OTHER_COMPONENT_APPID })).errcode).toBe(
      40013
    );
    expect((await errcode({ ...good, component_appid: undefined })).errcode).toBe(41002);
    expect((await errcode({ ...good, component_appsecret: '' })).errcode).toBe(41004);
    const invalid = await errcode({ ...good, component_verify_ticket: 'ticket@@@forged' });
    expect(invalid.errcode).toBe(61006);
    expect(invalid.errmsg).toMatch(/^component ticket is invalid/);
    expect(invalid.errmsg).toMatch(RID);
    expect((await errcode('{not json')).errcode).toBe(47001);
    const get = await fetch(`${f.sim.url}${ApiPath.api_component_token}`);
    expect(((await get.json()) as WechatErrorBody).errcode).toBe(43002);

    f.now += 12 * 3600 * 1000 - 1;
    expect((await errcode(good)).component_access_token).toBeDefined();
    f.now += 1;
    const expired = await errcode(good);
    expect(expired.errcode).toBe(61005);
    expect(expired.errmsg).toMatch(/^component ticket is expired rid: /);
    expect(
      f.sim.calls.filter((c) => c.api === 'api_component_token').map((c) => c.errcode)
    ).toEqual([undefined, 40125, 40013, 41002, 41004, 61006, 47001, 43002, undefined, 61005]);
  });

  it('keeps a superseded token valid for 5 minutes, then 40001; expiry gives 42001', async () => {
    const first = await componentToken();
    f.now += 60_000;
    const second = await componentToken();
    const preauth = (token: string, name = 'component_access_token') =>
      call<PreAuthCodeResponse>(
        'api_create_preauthcode',
        { component_appid: COMPONENT_APPID },
        { [name]: token }
      );

    f.now += 300_000 - 1; // 4:59.999 after the new token
    expect((await preauth(first)).json.pre_auth_code).toMatch(/^preauthcode@@@/);
    expect(f.sim.tokenStatus(first)).toBe('valid');
    f.now += 1;
    expect((await preauth(first)).json).toEqual({
      errcode: 40001,
      errmsg: expect.stringMatching(
        /^invalid credential, access_token is invalid or not latest rid: /
      ),
    });
    expect(f.sim.tokenStatus(first)).toBe('superseded');
    expect((await preauth(second, 'access_token')).json).toEqual({
      pre_auth_code: expect.any(String),
      expires_in: 600,
    });
    expect((await preauth('unknown-token')).json.errcode).toBe(40001);
    const missing = await call('api_create_preauthcode', { component_appid: COMPONENT_APPID });
    expect(missing.json.errmsg).toMatch(/^access_token missing rid: /);

    f.now += 7200_000; // well past the second token's 2 h
    expect((await preauth(second)).json.errcode).toBe(42001);
    expect(f.sim.tokenStatus(second)).toBe('expired');
  });

  it('answers 61014 when an authorizer_access_token is used as the component token', async () => {
    const token = await componentToken();
    const code = f.sim.authorize(authorizerAppId(22));
    const auth = await call<QueryAuthResponse>(
      'api_query_auth',
      { component_appid: COMPONENT_APPID, authorization_code: code },
      withToken(token)
    );
    const authorizerToken = auth.json.authorization_info?.authorizer_access_token as string;
    expect(
      (
        await call(
          'api_create_preauthcode',
          { component_appid: COMPONENT_APPID },
          withToken(authorizerToken)
        )
      ).json.errcode
    ).toBe(61014);
  });
});

describe('the merchant authorization page', () => {
  const redirect = 'http://127.0.0.1:3000/wechat/callback?tenant=a&x="<b>"';
  const referer = 'http://127.0.0.1:3000/authorize';

  async function preAuthCode(): Promise<string> {
    const token = await componentToken();
    const answer = await call<PreAuthCodeResponse>(
      'api_create_preauthcode',
      { component_appid: COMPONENT_APPID },
      withToken(token)
    );
    return answer.json.pre_auth_code as string;
  }
  const link = (code: string, extra: Record<string, string> = {}) =>
    `${f.sim.url}/cgi-bin/componentloginpage?${new URLSearchParams({
      component_appid: COMPONENT_APPID,
      pre_auth_code: code,
      redirect_uri: redirect,
      auth_type: '3',
      ...extra,
    })}`;
  const open = async (url: string, from: string | null = referer) => {
    const response = await fetch(url, { headers: from ? { referer: from } : {} });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    return response.text();
  };
  /** The form fields as a browser would submit them (entities decoded). */
  const formOf = (html: string) => {
    const fields = new URLSearchParams();
    for (const [, name, value] of html.matchAll(/<input[^>]*name="(\w+)" value="([^"]*)"/g)) {
      const decoded = (value as string)
        .replaceAll('&quot;', '"')
        .replaceAll('&lt;', '<')
        .replaceAll('&gt;', '>')
        .replaceAll('&#39;', "'")
        .replaceAll('&amp;', '&');
      fields.append(name as string, decoded);
    }
    return fields;
  };
  const confirm = (form: URLSearchParams) =>
    fetch(`${f.sim.url}/simulator/confirm`, { method: 'POST', body: form, redirect: 'manual' });

  it('shows WeChat’s entry-domain error without a Referer or from another domain', async () => {
    const code = await preAuthCode();
    expect(await open(link(code), null)).toContain('授权入口页所在域名：空');
    expect(await open(link(code), 'https://evil.example/page')).toContain(
      '授权入口页所在域名：evil.example'
    );
    const confirmPage = await open(link(code));
    expect(confirmPage).toContain('id="confirm"');
    // Keeping the offered appid is what the README's walkthrough does in its later steps.
    expect(confirmPage).toContain(`name="authorizer_appid" value="${WALKTHROUGH_APPID}"`);
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`-d '{"authorizerAppId":"${WALKTHROUGH_APPID}"}'`);
  });

  it('confirm → 302 with auth_code, an authorized push, and a single-use pre_auth_code', async () => {
    const code = await preAuthCode();
    const html = await open(link(code, { category_id_list: '1|15' }));
    expect(html).toContain('Simulated WeChat: authorize');
    expect(html).not.toContain('"<b>"');
    expect(html).toContain('&quot;&lt;b&gt;&quot;');
    const form = formOf(html);
    expect(form.get('redirect_uri')).toBe(redirect);
    expect(form.get('authorizer_appid')).toMatch(/^wx[0-9a-f]{16}$/);
    form.set('authorizer_appid', authorizerAppId(33));
    received.length = 0;

    const response = await confirm(form);
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location') as string);
    expect(`${location.origin}${location.pathname}`).toBe('http://127.0.0.1:3000/wechat/callback');
    expect(location.searchParams.get('tenant')).toBe('a');
    expect(location.searchParams.get('x')).toBe('"<b>"');
    const authCode = location.searchParams.get('auth_code') as string;
    expect(authCode).toMatch(/^queryauthcode@@@/);
    expect(location.searchParams.get('expires_in')).toBe('600');

    expect(received).toHaveLength(1);
    const xml = decrypt(received[0] as Received);
    expect(tag(xml, 'InfoType')).toBe('authorized');
    expect(tag(xml, 'AuthorizerAppid')).toBe(authorizerAppId(33));
    expect(tag(xml, 'AuthorizationCode')).toBe(authCode);
    expect(tag(xml, 'AuthorizationCodeExpiredTime')).toBe(String(Math.floor(f.now / 1000) + 600));
    expect(tag(xml, 'PreAuthCode')).toBe(code);
    expect(f.sim.state.authorizers.get(authorizerAppId(33))?.funcIds).toEqual([1, 15]);

    expect(await open(link(code))).toContain('pre_auth_code 已使用');
    expect(await (await confirm(form)).text()).toContain('pre_auth_code 已使用');
    expect(f.sim.callCount('confirm')).toBe(2);
  });

  it('serves the H5 link (biz_appid fixed) and rejects an expired pre_auth_code', async () => {
    const code = await preAuthCode();
    const h5 = `${f.sim.url}/wxaopen/safe/bindcomponent?${new URLSearchParams({
      action: 'bindcomponent',
      no_scan: '1',
      component_appid: COMPONENT_APPID,
      pre_auth_code: code,
      redirect_uri: redirect,
      auth_type: '1',
      biz_appid: 'wx4444444444444444',
    })}`;
    const html = await open(h5);
    expect(html).toMatch(
      /id="authorizer_appid" name="authorizer_appid" value="wx4444444444444444" readonly/
    );
    expect(await open(h5.replace('no_scan=1', 'no_scan=0'))).toContain('no_scan=1');
    f.now += 600_000;
    expect(await open(h5)).toContain('pre_auth_code 已过期');
    expect(await open(link('preauthcode@@@nope'))).toContain('pre_auth_code 无效');
  });
});

describe('authorizer APIs', () => {
  let token: string;
  beforeEach(async () => {
    token = await componentToken();
  });
  const queryAuth = (code: string) =>
    call<QueryAuthResponse>(
      'api_query_auth',
      { component_appid: COMPONENT_APPID, authorization_code: code },
      withToken(token)
    );
  const refresh = (appId: string, refreshToken: string) =>
    call<AuthorizerTokenResponse>(
      'api_authorizer_token',
      {
        component_appid: COMPONENT_APPID,
        authorizer_appid: appId,
        authorizer_refresh_token: refreshToken,
      },
      withToken(token)
    );
  const list = (offset: number, count: unknown) =>
    call<AuthorizerListResponse>(
      'api_get_authorizer_list',
      { component_appid: COMPONENT_APPID, offset, count },
      withToken(token)
    );

  it('api_query_auth exchanges a code once: 61009 on reuse or unknown, 61010 after expiry', async () => {
    const code = f.sim.authorize(authorizerAppId(55), [1, 2]);
    const first = await queryAuth(code);
    expect(first.json).toEqual({
      authorization_info: {
        authorizer_appid: authorizerAppId(55),
        authorizer_access_token: expect.stringMatching(/^[\w-]{100,}$/),
        expires_in: 7200,
        authorizer_refresh_token: expect.stringMatching(/^refreshtoken@@@/),
        func_info: [{ funcscope_category: { id: 1 } }, { funcscope_category: { id: 2 } }],
      },
    });
    const reuse = await queryAuth(code);
    expect(reuse.json).toEqual({
      errcode: 61009,
      errmsg: expect.stringMatching(/^code is invalid rid: /),
    });
    expect((await queryAuth('queryauthcode@@@unknown')).json.errcode).toBe(61009);

    const late = f.sim.authorize(authorizerAppId(55));
    f.now += 600_000;
    expect((await queryAuth(late)).json.errmsg).toMatch(/^code is expired rid: /);
  });

  it('api_authorizer_token: new access token, same refresh token; 61023 when wrong or rotated, 61003 when not authorized', async () => {
    const appId = authorizerAppId(66);
    const { authCode } = await f.sim.pushAuthorized(appId);
    const auth = (await queryAuth(authCode)).json.authorization_info;
    const refreshToken = auth?.authorizer_refresh_token as string;

    const ok = await refresh(appId, refreshToken);
    expect(ok.json).toEqual({
      authorizer_access_token: expect.any(String),
      expires_in: 7200,
      authorizer_refresh_token: refreshToken,
    });
    expect(ok.json.authorizer_access_token).not.toBe(auth?.authorizer_access_token);
    const old = auth?.authorizer_access_token as string;
    f.now += 299_000;
    expect(f.sim.tokenStatus(old)).toBe('valid');
    f.now += 1_000;
    expect(f.sim.tokenStatus(old)).toBe('superseded');

    expect((await refresh(appId, 'refreshtoken@@@wrong')).json).toEqual({
      errcode: 61023,
      errmsg: expect.stringMatching(/^refresh_token is invalid rid: /),
    });
    expect((await refresh(appId, '')).json.errcode).toBe(61023);
    expect((await refresh(authorizerAppId(90001), refreshToken)).json.errcode).toBe(61003);

    const rotated = f.sim.rotateRefreshToken(appId);
    expect(rotated).not.toBe(refreshToken);
    expect((await refresh(appId, refreshToken)).json.errcode).toBe(61023);
    expect((await refresh(appId, rotated)).json.authorizer_refresh_token).toBe(rotated);
    expect((await list(0, 10)).json.list).toEqual([
      { authorizer_appid: appId, refresh_token: rotated, auth_time: expect.any(Number) },
    ]);

    // Re-authorization issues a new refresh token.
    f.sim.authorize(appId);
    expect((await refresh(appId, rotated)).json.errcode).toBe(61023);

    received.length = 0;
    await f.sim.pushUnauthorized(appId);
    expect(tag(decrypt(received[0] as Received), 'InfoType')).toBe('unauthorized');
    const current = f.sim.state.authorizers.get(appId)?.refreshToken as string;
    expect((await refresh(appId, current)).json).toEqual({
      errcode: 61003,
      errmsg: expect.stringMatching(/^component is not authorized by this account rid: /),
    });
    expect((await list(0, 10)).json).toEqual({ total_count: 0, list: [] });
  });

  it('api_get_authorizer_list pages active authorizers in a stable order', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => authorizerAppId(100 + i));
    for (const id of ids) f.sim.authorize(id);
    f.sim.forgetAuthorizer(ids[7] as string);

    const pages: AuthorizerListResponse[] = [];
    for (let offset = 0; offset < 7; offset += 3) {
      const page = (await list(offset, 3)).json as AuthorizerListResponse;
      expect(page.total_count).toBe(7);
      pages.push(page);
    }
    expect(pages.map((p) => p.list.length)).toEqual([3, 3, 1]);
    const listed = pages.flatMap((p) => p.list);
    expect(listed.map((e) => e.authorizer_appid)).toEqual(ids.slice(0, 7));
    expect(listed[0]).toEqual({
      authorizer_appid: ids[0],
      refresh_token: f.sim.state.authorizers.get(ids[0] as string)?.refreshToken,
      auth_time: Math.floor(f.now / 1000),
    });
    expect((await list(9, 3)).json).toEqual({ total_count: 7, list: [] });
    for (const bad of [0, 501, '3']) expect((await list(0, bad)).json.errcode).toBe(47001);
  });

  it('api_get_authorizer_info describes an authorizer; 61003 for an unknown one', async () => {
    f.sim.authorize(authorizerAppId(88), [1]);
    const info = (
      await call<AuthorizerInfoResponse>(
        'api_get_authorizer_info',
        { component_appid: COMPONENT_APPID, authorizer_appid: authorizerAppId(88) },
        withToken(token)
      )
    ).json;
    expect(info.authorizer_info).toMatchObject({
      nick_name: expect.any(String),
      service_type_info: { id: 2 },
      verify_type_info: { id: 0 },
      user_name: expect.stringMatching(/^gh_[0-9a-f]{12}$/),
      principal_name: expect.any(String),
    });
    expect(info.authorization_info).toEqual({
      authorizer_appid: authorizerAppId(88),
      authorizer_refresh_token: f.sim.state.authorizers.get(authorizerAppId(88))?.refreshToken,
      func_info: [{ funcscope_category: { id: 1 } }],
    });
    const unknown = await call(
      'api_get_authorizer_info',
      { component_appid: COMPONENT_APPID, authorizer_appid: authorizerAppId(90002) },
      withToken(token)
    );
    expect(unknown.json.errmsg).toMatch(/^component is not authorized by this account rid: /);
  });
});

describe('getApiQuota (/cgi-bin/openapi/quota/get)', () => {
  const MERCHANT = AUTHORIZER_APPID;
  const OTHER = OTHER_AUTHORIZER_APPID;
  const quota = (
    accessToken: string | undefined,
    body: unknown = { cgi_path: ApiPath.getApiQuota },
    target = f.sim
  ) =>
    call<ApiQuotaResponse>(
      'getApiQuota',
      body,
      accessToken === undefined ? {} : { access_token: accessToken },
      target
    );
  const refresh = (token: string, appId: string, refreshToken: string, target = f.sim) =>
    call<AuthorizerTokenResponse>(
      'api_authorizer_token',
      {
        component_appid: COMPONENT_APPID,
        authorizer_appid: appId,
        authorizer_refresh_token: refreshToken,
      },
      withToken(token),
      target
    );
  /** A component token and `appId`'s first authorizer tokens. */
  async function tokens(appId = MERCHANT, target = f.sim, token?: string) {
    const component = token ?? (await componentToken(target));
    const auth = await call<QueryAuthResponse>(
      'api_query_auth',
      { component_appid: COMPONENT_APPID, authorization_code: target.authorize(appId) },
      withToken(component),
      target
    );
    const info = auth.json.authorization_info;
    return {
      component,
      accessToken: info?.authorizer_access_token as string,
      refreshToken: info?.authorizer_refresh_token as string,
    };
  }
  const errcode = async (answer: Promise<{ json: WechatErrorBody }>) => (await answer).json.errcode;

  it('answers 61004 before any other check when the caller IP is not whitelisted', async () => {
    f.sim.setWhitelisted(false);
    expect(await errcode(quota(undefined, 'not json'))).toBe(61004);
  });

  it('answers 43002 to a GET, even with a valid token', async () => {
    const { accessToken } = await tokens();
    const url = `${f.sim.url}${ApiPath.getApiQuota}?access_token=${accessToken}`;
    const answer = (await (await fetch(url)).json()) as WechatErrorBody;
    expect(answer.errcode).toBe(43002);
  });

  it('answers 41001 without an access_token', async () => {
    expect(await errcode(quota(undefined))).toBe(41001);
    expect(await errcode(quota(''))).toBe(41001);
  });

  it('answers 42001 for an expired component or authorizer token', async () => {
    const { component, accessToken } = await tokens();
    f.now += 7200_000 - 1;
    expect(await errcode(quota(accessToken))).toBe(0);
    f.now += 1;
    expect(await errcode(quota(accessToken))).toBe(42001);
    expect(await errcode(quota(component))).toBe(42001);
  });

  it('answers 40001 for a token superseded more than 5 minutes ago, not before', async () => {
    const { component, accessToken, refreshToken } = await tokens();
    expect((await refresh(component, MERCHANT, refreshToken)).json.errcode).toBeUndefined();
    f.now += 5 * MINUTE - 1;
    expect(await errcode(quota(accessToken))).toBe(0);
    f.now += 1;
    expect(await errcode(quota(accessToken))).toBe(40001);
  });

  it('answers 40001 for a token a re-authorization killed', async () => {
    const { accessToken } = await tokens();
    f.sim.authorize(MERCHANT);
    expect(await errcode(quota(accessToken))).toBe(40001);
  });

  it('answers 40001 for the token of a revoked authorization', async () => {
    const { accessToken } = await tokens();
    f.sim.forgetAuthorizer(MERCHANT);
    expect(await errcode(quota(accessToken))).toBe(40001);
  });

  it('answers 40001 for a token WeChat never issued', async () => {
    expect((await quota('a'.repeat(100))).json).toEqual({
      errcode: 40001,
      errmsg: expect.stringMatching(
        /^invalid credential, access_token is invalid or not latest rid: /
      ),
    });
  });

  it('answers 40014 for a malformed token (characters tokens never have)', async () => {
    const { accessToken } = await tokens();
    expect((await quota(`${accessToken} `)).json).toEqual({
      errcode: 40014,
      errmsg: expect.stringMatching(/^invalid access_token rid: /),
    });
    expect(await errcode(quota('null@@@'))).toBe(40014);
  });

  it('answers 47001 when the body is not JSON or cgi_path is missing or not a string', async () => {
    const { accessToken } = await tokens();
    expect(await errcode(quota(accessToken, 'cgi_path=/cgi-bin/openapi/quota/get'))).toBe(47001);
    expect(f.sim.quotaUsed('getApiQuota', MERCHANT)).toBe(0);
    expect(await errcode(quota(accessToken, {}))).toBe(47001);
    expect(await errcode(quota(accessToken, { cgi_path: ['/cgi-bin/openapi/quota/get'] }))).toBe(
      47001
    );
  });

  it('answers 76003 for a cgi_path that does not start with /', async () => {
    const { accessToken } = await tokens();
    const full = `https://api.weixin.qq.com${ApiPath.getApiQuota}`;
    expect((await quota(accessToken, { cgi_path: full })).json).toEqual({
      errcode: 76003,
      errmsg: expect.stringMatching(/^simulated error 76003 \(simulator: .+\) rid: /),
    });
    expect(await errcode(quota(accessToken, { cgi_path: 'cgi-bin/openapi/quota/get' }))).toBe(
      76003
    );
  });

  it('answers 76021 for a cgi_path WeChat does not know', async () => {
    const { accessToken } = await tokens();
    expect((await quota(accessToken, { cgi_path: '/cgi-bin/component/api_nope' })).json).toEqual({
      errcode: 76021,
      errmsg: expect.stringMatching(/^cgi_path not found, please check rid: /),
    });
  });

  it("answers 76022 for another account type's API, and for /sns/ paths", async () => {
    const { component, accessToken } = await tokens();
    expect((await quota(accessToken, { cgi_path: ApiPath.api_component_token })).json).toEqual({
      errcode: 76022,
      errmsg: expect.stringMatching(/^could not use this cgi_path,no permission rid: /),
    });
    const send = { cgi_path: '/cgi-bin/message/custom/send' };
    expect(await errcode(quota(component, send))).toBe(76022);
    expect(await errcode(quota(accessToken, send))).toBe(0);
    expect(await errcode(quota(accessToken, { cgi_path: '/sns/userinfo' }))).toBe(76022);
  });

  it("answers a component API's daily limit and today's calls from the simulator's counters", async () => {
    const token = await componentToken();
    expect((await quota(token, { cgi_path: ApiPath.api_component_token })).json).toEqual({
      errcode: 0,
      errmsg: 'ok',
      quota: { daily_limit: 10_000, used: 1, remain: 9_999 },
    });
    await call('api_create_preauthcode', { component_appid: COMPONENT_APPID }, withToken(token));
    const preauth = await quota(token, { cgi_path: ApiPath.api_create_preauthcode });
    expect(preauth.json.quota).toEqual({ daily_limit: 10_000, used: 1, remain: 9_999 });
  });

  it("answers api_authorizer_token's per-authorizer quota as the busiest authorizer's", async () => {
    const merchant = await tokens();
    const other = await tokens(OTHER, f.sim, merchant.component);
    await refresh(merchant.component, MERCHANT, merchant.refreshToken);
    await refresh(merchant.component, MERCHANT, merchant.refreshToken);
    await refresh(merchant.component, OTHER, other.refreshToken);
    const answer = await quota(merchant.component, { cgi_path: ApiPath.api_authorizer_token });
    expect(answer.json.quota).toEqual({ daily_limit: 2_000, used: 2, remain: 1_998 });
  });

  it('counts its own calls per token owner: each authorizer, and the platform for the component token', async () => {
    const { component, accessToken } = await tokens();
    expect((await quota(accessToken)).json.quota).toEqual({
      daily_limit: 10_000,
      used: 1,
      remain: 9_999,
    });
    expect((await quota(accessToken)).json.quota?.used).toBe(2);
    expect((await quota(component)).json.quota?.used).toBe(1);
    expect(f.sim.quotaUsed('getApiQuota', MERCHANT)).toBe(2);
    expect(f.sim.quotaUsed('getApiQuota')).toBe(1);
  });

  it('answers 45009 past its own daily limit, per token owner', async () => {
    const limited = await start({ rules: { dailyQuota: { getApiQuota: 1 } } });
    const { component, accessToken } = await tokens(MERCHANT, limited);
    const other = await tokens(OTHER, limited, component);
    expect(await errcode(quota(accessToken, undefined, limited))).toBe(0);
    expect(await errcode(quota(accessToken, undefined, limited))).toBe(45009);
    expect(await errcode(quota(other.accessToken, undefined, limited))).toBe(0);
    expect(await errcode(quota(component, undefined, limited))).toBe(0);
    expect(await errcode(quota(component, undefined, limited))).toBe(45009);
  });

  it('takes the faults failNext queues for it, like any API', async () => {
    const { accessToken } = await tokens();
    f.sim.failNext('getApiQuota', { errcode: -1 });
    f.sim.failNext('getApiQuota', 'malformed');
    f.sim.failNext('getApiQuota', 'busy_after_processing');
    expect(await errcode(quota(accessToken))).toBe(-1);
    expect((await quota(accessToken)).json).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(f.sim.quotaUsed('getApiQuota', MERCHANT)).toBe(0);
    expect(await errcode(quota(accessToken))).toBe(-1);
    expect(f.sim.quotaUsed('getApiQuota', MERCHANT)).toBe(1);
    expect(f.sim.calls.filter((c) => c.api === 'getApiQuota').map((c) => c.fault)).toEqual([
      'errcode',
      'malformed',
      'busy_after_processing',
    ]);
  });
});

describe('whitelist, faults and odd requests', () => {
  it('answers 61004 with the requestIP on every API when not whitelisted', async () => {
    const { ticket } = await f.sim.pushTicket();
    f.sim.setWhitelisted(false);
    const body = {
      component_appid: COMPONENT_APPID,
      component_appsecret: SECRET,
      component_verify_ticket: ticket,
    };
    const answer = await call('api_component_token', body);
    expect(answer.json.errcode).toBe(61004);
    expect(answer.json.errmsg).toMatch(
      new RegExp(`^access clientip is not registered requestIP: ${EGRESS} rid: `)
    );
    expect(parseRequestIp(answer.json.errmsg as string)).toBe(EGRESS);
    expect((await call('api_start_push_ticket', {})).json.errcode).toBe(61004);
    f.sim.setWhitelisted(true);
    expect((await call('api_component_token', body)).json.expires_in).toBe(7200);
  });

  it('injects errcode faults per API or for any API, N times, and records them', async () => {
    const token = await componentToken();
    const preauth = () =>
      call('api_create_preauthcode', { component_appid: COMPONENT_APPID }, withToken(token));
    f.sim.failNext('api_create_preauthcode', { errcode: -1 }, 2);
    f.sim.failNext('*', { errcode: 45009, errmsg: 'reach max api daily quota limit hint: [x]' });
    const first = await preauth();
    expect(first.status).toBe(200);
    expect(first.json).toEqual({
      errcode: -1,
      errmsg: expect.stringMatching(/^system error rid: /),
    });
    expect((await preauth()).json.errcode).toBe(-1);
    expect((await preauth()).json).toEqual({
      errcode: 45009,
      errmsg: 'reach max api daily quota limit hint: [x]',
    });
    expect((await preauth()).json.pre_auth_code).toBeDefined();
    const calls = f.sim.calls.filter((c) => c.api === 'api_create_preauthcode');
    expect(calls.map((c) => [c.errcode, c.fault])).toEqual([
      [-1, 'errcode'],
      [-1, 'errcode'],
      [45009, 'errcode'],
      [undefined, undefined],
    ]);
    expect(f.sim.callCount('api_create_preauthcode')).toBe(4);
    f.sim.resetCalls();
    expect(f.sim.calls).toEqual([]);
  });

  it('injects transport faults: timeout, reset, html, http500, empty', async () => {
    const url = `${f.sim.url}${ApiPath.api_component_token}`;
    const post = (signal?: AbortSignal) => fetch(url, { method: 'POST', body: '{}', signal });

    f.sim.failNext('api_component_token', 'timeout');
    await expect(post(AbortSignal.timeout(100))).rejects.toThrow(/timeout|aborted/i);

    f.sim.failNext('api_component_token', 'reset');
    await expect(post()).rejects.toThrow(TypeError);

    f.sim.failNext('api_component_token', 'html');
    const html = await post();
    expect([html.status, html.headers.get('content-type')]).toEqual([
      200,
      'text/html; charset=utf-8',
    ]);
    await expect(html.clone().json()).rejects.toThrow();

    f.sim.failNext('api_component_token', 'http500');
    const failed = await post();
    expect(failed.status).toBe(500);
    expect(await failed.text()).toBe('Internal Server Error');

    f.sim.failNext('api_component_token', 'empty');
    const empty = await post();
    expect([empty.status, await empty.text()]).toEqual([200, '']);

    expect(f.sim.calls.map((c) => c.fault)).toEqual([
      'timeout',
      'reset',
      'html',
      'http500',
      'empty',
    ]);
  });

  it('close() resolves while a timeout fault holds a socket', async () => {
    const other = await start();
    other.failNext('*', 'timeout');
    const pending = fetch(`${other.url}${ApiPath.api_query_auth}`, { method: 'POST', body: '{}' });
    const outcome = pending.then(
      () => 'answered',
      () => 'failed'
    );
    await new Promise((r) => setTimeout(r, 20));
    await other.close();
    expect(await outcome).toBe('failed');
  });

  it('answers unknown paths with 404 JSON and adds configured latency', async () => {
    const unknown = await fetch(`${f.sim.url}/cgi-bin/component/api_nope`, { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as WechatErrorBody).errcode).toBe(48001);
    expect(f.sim.callCount('unknown')).toBe(1);

    const slow = await start({ latencyMs: 50 });
    const started = performance.now();
    await call('api_start_push_ticket', {}, {}, slow);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('works with the real HttpComponentApi client end to end', async () => {
    const { ticket } = await f.sim.pushTicket();
    const client = new HttpComponentApi({
      componentAppId: COMPONENT_APPID,
      baseUrl: f.sim.url,
      timeoutMs: 1000,
      attempts: 2,
      retryDelayMs: 0,
    });
    const { component_access_token: token } = await client.apiComponentToken(SECRET, ticket);
    const { pre_auth_code } = await client.apiCreatePreauthcode(token);
    expect(pre_auth_code).toMatch(/^preauthcode@@@/);
    const code = f.sim.authorize(authorizerAppId(99));
    const auth = await client.apiQueryAuth(token, code);
    const refreshed = await client.apiAuthorizerToken(
      token,
      authorizerAppId(99),
      auth.authorization_info.authorizer_refresh_token as string
    );
    expect(refreshed.authorizer_refresh_token).toBe(
      auth.authorization_info.authorizer_refresh_token
    );
    expect((await client.apiGetAuthorizerList(token, 0, 500)).total_count).toBe(1);
    await expect(client.apiStartPushTicket(SECRET)).resolves.toBeUndefined();

    f.sim.failNext('api_create_preauthcode', 'html'); // transient: retried
    await expect(client.apiCreatePreauthcode(token)).resolves.toBeDefined();
    f.sim.setWhitelisted(false);
    const error = await client.apiCreatePreauthcode(token).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatApiError);
    expect(error).toMatchObject({ errcode: 61004, kind: 'ip_not_whitelisted', requestIp: EGRESS });
    await f.sim.flushPushes();
  });
});
