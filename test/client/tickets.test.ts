import { createHash } from 'node:crypto';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { createTokenClient, jsapiSignature, TokenServiceError } from '../../client/src/index';
import { AUTHORIZER_APPID, MINUTE, OTHER_AUTHORIZER_APPID, T0 } from '../support/test-ids';
import { errorAnswer, failure, GET_TOKEN, lambda, lambdaMock, payload, sent } from './lambda-mock';

/**
 * Tickets from get-token (`jsapi`, `wx_card`), cached like tokens, and the JS-SDK `wx.config` built on the
 * jsapi ticket.
 */

/**
 * WeChat's own example, JS-SDK documentation appendix 1.
 * @see https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/JS-SDK.html
 */
const VECTOR = {
  jsapiTicket:
    'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg',
  nonceStr: 'Wm3WZYTPz0wzccnW',
  timestamp: 1414587457,
  url: 'http://mp.weixin.qq.com?params=value',
  signature: '0f9de62fce790f9a083d5c99e95740ceb90c27ed',
};

const ticketAnswer = (ticket: string, expiresAt = T0 + 100 * MINUTE, appId = AUTHORIZER_APPID) =>
  payload({ appId, ticket, expiresAt: new Date(expiresAt).toISOString() });

let now: number;
const client = () => createTokenClient({ functionName: GET_TOKEN, lambda, clock: () => now });
const requests = () => sent().map((s) => s.request);

beforeEach(() => {
  lambdaMock.reset();
  now = T0;
});

describe('tickets', () => {
  it('getJsapiTicket asks get-token for the jsapi ticket once and serves it from the cache', async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: ticketAnswer('jsapi-1') });
    const tokens = client();

    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await tokens.getJsapiTicket(AUTHORIZER_APPID));

    expect(answers).toEqual(Array(20).fill('jsapi-1'));
    expect(sent()).toEqual([
      { functionName: GET_TOKEN, request: { authorizerAppId: AUTHORIZER_APPID, ticket: 'jsapi' } },
    ]);
  });

  it('getCardTicket asks for wx_card; tickets, kinds, merchants and tokens are kept apart', async () => {
    lambdaMock.on(InvokeCommand).callsFake(async (input: { Payload: Uint8Array }) => {
      const request = JSON.parse(new TextDecoder().decode(input.Payload));
      const name = `${request.ticket ?? 'token'}-${request.authorizerAppId}`;
      return {
        Payload: request.ticket
          ? ticketAnswer(name)
          : payload({ accessToken: name, expiresAt: new Date(T0 + 100 * MINUTE).toISOString() }),
      };
    });
    const tokens = client();

    const answers = await Promise.all([
      tokens.getJsapiTicket(AUTHORIZER_APPID),
      tokens.getCardTicket(AUTHORIZER_APPID),
      tokens.getJsapiTicket(OTHER_AUTHORIZER_APPID),
      tokens.getAuthorizerToken(AUTHORIZER_APPID),
      tokens.getCardTicket(AUTHORIZER_APPID),
    ]);

    expect(answers).toEqual([
      `jsapi-${AUTHORIZER_APPID}`,
      `wx_card-${AUTHORIZER_APPID}`,
      `jsapi-${OTHER_AUTHORIZER_APPID}`,
      `token-${AUTHORIZER_APPID}`,
      `wx_card-${AUTHORIZER_APPID}`,
    ]);
    expect(requests()).toEqual([
      { authorizerAppId: AUTHORIZER_APPID, ticket: 'jsapi' },
      { authorizerAppId: AUTHORIZER_APPID, ticket: 'wx_card' },
      { authorizerAppId: OTHER_AUTHORIZER_APPID, ticket: 'jsapi' },
      { authorizerAppId: AUTHORIZER_APPID },
    ]);
  });

  it('asks again only once the ticket is within the margin (a minute) of its expiresAt', async () => {
    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({ Payload: ticketAnswer('card-1', T0 + 10 * MINUTE) })
      .resolvesOnce({ Payload: ticketAnswer('card-2', T0 + 30 * MINUTE) });
    const tokens = client();
    await tokens.getCardTicket(AUTHORIZER_APPID);

    now = T0 + 9 * MINUTE - 1;
    const before = await tokens.getCardTicket(AUTHORIZER_APPID);
    now = T0 + 9 * MINUTE;
    const after = await tokens.getCardTicket(AUTHORIZER_APPID);

    expect([before, after]).toEqual(['card-1', 'card-2']);
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 2);
  });

  it('follows expiryMarginMs like tokens do', async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: ticketAnswer('jsapi-1', T0 + 10 * MINUTE) });
    const tokens = createTokenClient({
      functionName: GET_TOKEN,
      lambda,
      clock: () => now,
      expiryMarginMs: 5 * MINUTE,
    });
    await tokens.getJsapiTicket(AUTHORIZER_APPID);

    now = T0 + 5 * MINUTE - 1;
    await tokens.getJsapiTicket(AUTHORIZER_APPID);
    now = T0 + 5 * MINUTE;
    await tokens.getJsapiTicket(AUTHORIZER_APPID);

    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 2);
  });

  it('shares one invoke among concurrent first calls', async () => {
    lambdaMock.on(InvokeCommand).callsFake(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { Payload: ticketAnswer('jsapi-1') };
    });
    const tokens = client();

    const answers = await Promise.all(
      Array.from({ length: 100 }, () => tokens.getJsapiTicket(AUTHORIZER_APPID))
    );

    expect(new Set(answers)).toEqual(new Set(['jsapi-1']));
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 1);
  });

  it('invalidTicket reports a refused ticket and replaces it in the cache', async () => {
    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({ Payload: ticketAnswer('old') })
      .resolvesOnce({ Payload: ticketAnswer('new') });
    const tokens = client();
    await tokens.getJsapiTicket(AUTHORIZER_APPID);

    const renewed = await tokens.getJsapiTicket(AUTHORIZER_APPID, { invalidTicket: 'old' });
    const later = await tokens.getJsapiTicket(AUTHORIZER_APPID);
    const staleReport = await tokens.getJsapiTicket(AUTHORIZER_APPID, { invalidTicket: 'old' });

    expect([renewed, later, staleReport]).toEqual(['new', 'new', 'new']);
    expect(requests()).toEqual([
      { authorizerAppId: AUTHORIZER_APPID, ticket: 'jsapi' },
      { authorizerAppId: AUTHORIZER_APPID, ticket: 'jsapi', invalidTicket: 'old' },
    ]);
  });

  it.each([
    'authorizer_not_found',
    'authorizer_revoked',
    'invalid_request',
    'upstream_unavailable',
  ])("get-token's %s rejects as a TokenServiceError, and is not cached", async (code) => {
    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({ Payload: errorAnswer(code) })
      .resolvesOnce({ Payload: ticketAnswer('card-1') });
    const tokens = client();

    const error = await failure(tokens.getCardTicket(AUTHORIZER_APPID));
    const second = await tokens.getCardTicket(AUTHORIZER_APPID);

    expect(error).toBeInstanceOf(TokenServiceError);
    expect(error).toMatchObject({ code, message: `${code} happened` });
    expect(second).toBe('card-1');
  });

  it.each([
    ['no ticket (a token instead)', { accessToken: 't', expiresAt: new Date(T0).toISOString() }],
    ['an empty ticket', { ticket: '', expiresAt: new Date(T0).toISOString() }],
    ['no expiresAt', { ticket: 'jsapi-1' }],
  ])('an answer with %s is malformed_response', async (_name, answer) => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: payload(answer) });

    const error = await failure(client().getJsapiTicket(AUTHORIZER_APPID));

    expect(error).toMatchObject({ name: 'TokenServiceError', code: 'malformed_response' });
  });
});

describe('jsapiSignature', () => {
  it("matches WeChat's example (JS-SDK appendix 1)", () => {
    const { signature, ...input } = VECTOR;

    expect(jsapiSignature(input)).toBe(signature);
  });

  it('signs the values raw, not URL-escaped', () => {
    const input = {
      jsapiTicket: 't',
      nonceStr: 'n',
      timestamp: 1,
      url: 'https://a.cn/p?q=中 文&x=1',
    };
    const plain = `jsapi_ticket=t&noncestr=n&timestamp=1&url=${input.url}`;

    expect(jsapiSignature(input)).toBe(createHash('sha1').update(plain).digest('hex'));
  });
});

describe('jsapiConfig', () => {
  it("signs with the cached jsapi ticket, the client's clock and a fresh nonce each time", async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: ticketAnswer(VECTOR.jsapiTicket) });
    const tokens = client();
    const url = 'https://shop.example.com/pay?order=1';

    const first = await tokens.jsapiConfig(AUTHORIZER_APPID, url);
    const second = await tokens.jsapiConfig(AUTHORIZER_APPID, `${url}#/cart`);

    for (const config of [first, second]) {
      expect(config).toEqual({
        appId: AUTHORIZER_APPID,
        timestamp: T0 / 1000,
        nonceStr: expect.stringMatching(/^[A-Za-z0-9]{16,}$/),
        signature: jsapiSignature({
          jsapiTicket: VECTOR.jsapiTicket,
          nonceStr: config.nonceStr,
          timestamp: T0 / 1000,
          url,
        }),
      });
    }
    expect(first.nonceStr).not.toBe(second.nonceStr);
    expect(requests()).toEqual([{ authorizerAppId: AUTHORIZER_APPID, ticket: 'jsapi' }]);
  });

  it("reproduces WeChat's example with its nonce and timestamp, dropping the #fragment", async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: ticketAnswer(VECTOR.jsapiTicket) });

    const config = await client().jsapiConfig(AUTHORIZER_APPID, `${VECTOR.url}#wechat_redirect`, {
      nonceStr: VECTOR.nonceStr,
      timestamp: VECTOR.timestamp,
    });

    expect(config).toEqual({
      appId: AUTHORIZER_APPID,
      timestamp: VECTOR.timestamp,
      nonceStr: VECTOR.nonceStr,
      signature: VECTOR.signature,
    });
  });

  it('timestamp is whole seconds', async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: ticketAnswer('jsapi-1') });
    now = T0 + 1_999;

    const config = await client().jsapiConfig(AUTHORIZER_APPID, 'https://a.cn/');

    expect(config.timestamp).toBe(T0 / 1000 + 1);
  });

  it("rejects with get-token's error when there is no ticket", async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: errorAnswer('authorizer_revoked') });

    const error = await failure(client().jsapiConfig(AUTHORIZER_APPID, 'https://a.cn/'));

    expect(error).toMatchObject({ name: 'TokenServiceError', code: 'authorizer_revoked' });
  });
});
