import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleLog } from '../../../local/console-log';
import { WechatApiError, WechatUnavailableError } from '../../../shared/errors';
import { failureFields, reportWechatFailure } from '../../../shared/report-wechat-failure';
import { HttpComponentApi } from '../../../shared/wechat/api-client';
import { AUTHORIZER_APPID, COMPONENT_APPID } from '../../support/test-ids';
import { tokenContext } from '../../support/token-context';

const COMPONENT_TOKEN = '76_CoMpOnEnTtOkEn0123456789AbCdEfGhIjKlMnOpQrStUvWxYz';
const REFRESH_TOKEN = 'refreshtoken@@@Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe';

/** A WeChat that accepts each request and hangs up without an answer. */
async function hangingUp(): Promise<{ server: Server; url: string }> {
  const server = createServer((req) => req.socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('reportWechatFailure names the WeChat URL it could not reach', () => {
  let wechat: Awaited<ReturnType<typeof hangingUp>>;
  beforeAll(async () => {
    wechat = await hangingUp();
  });
  afterAll(() => {
    wechat.server.close();
  });

  it('logs the URL without the query that carries the component token, and that the outcome is uncertain', async () => {
    const api = new HttpComponentApi({
      componentAppId: COMPONENT_APPID,
      baseUrl: wechat.url,
      timeoutMs: 1_000,
      attempts: 1,
      retryDelayMs: 0,
    });
    const error = await api
      .apiAuthorizerToken(COMPONENT_TOKEN, AUTHORIZER_APPID, REFRESH_TOKEN)
      .catch((e: unknown) => e);
    const lines: string[] = [];
    const { ctx } = await tokenContext();
    ctx.log = consoleLog({ sink: { out: (l) => lines.push(l), err: (l) => lines.push(l) } });

    reportWechatFailure(ctx, error, { authorizerAppId: AUTHORIZER_APPID });

    expect(error).toBeInstanceOf(WechatUnavailableError);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('ERROR WeChat operation failed');
    expect(lines[0]).toContain(`url=${wechat.url}/cgi-bin/component/api_authorizer_token `);
    expect(lines[0]).toContain('uncertain=true');
    expect(lines[0]).toContain('api=api_authorizer_token');
    expect(lines[0]).toContain('code=wechat_unavailable');
    expect(lines[0]).toContain(`authorizerAppId=${AUTHORIZER_APPID}`);
    expect(lines[0]).not.toContain('component_access_token');
    expect(lines[0]).not.toContain(COMPONENT_TOKEN);
    expect(lines[0]).not.toContain(REFRESH_TOKEN);
  });

  it('says when the call certainly never left, and why it failed', () => {
    const error = new WechatUnavailableError('api_component_token', 'connection failed', {
      cause: new TypeError('fetch failed'),
      uncertain: false,
      url: 'https://api.weixin.qq.com/cgi-bin/component/api_component_token',
    });
    expect(failureFields(error)).toEqual({
      code: 'wechat_unavailable',
      api: 'api_component_token',
      url: 'https://api.weixin.qq.com/cgi-bin/component/api_component_token',
      uncertain: false,
      causeName: 'TypeError',
    });
  });

  it('gives a WeChat answer’s errcode, errmsg, rid and the IP WeChat saw', async () => {
    const error = new WechatApiError(
      'api_authorizer_token',
      61004,
      'access clientip is not registered requestIP: 182.42.109.124 rid: 64705d91-0719e11e-25594278',
      'ip_not_whitelisted',
      '182.42.109.124'
    );
    const { ctx, log } = await tokenContext();
    ctx.egressIp = '203.0.113.10';

    reportWechatFailure(ctx, error);

    expect(log.entries).toEqual([
      {
        level: 'error',
        message: expect.stringContaining('not our NAT egress IP'),
        fields: expect.objectContaining({
          code: 'wechat_ip_not_whitelisted',
          api: 'api_authorizer_token',
          errcode: 61004,
          rid: '64705d91-0719e11e-25594278',
          requestIp: '182.42.109.124',
          egressIp: '203.0.113.10',
        }),
      },
    ]);
  });

  it('gives only the class name of an error that is not ours', () => {
    expect(failureFields(new TypeError('fetch failed: secret in here'))).toEqual({
      code: 'internal_error',
      errorName: 'TypeError',
    });
  });
});
