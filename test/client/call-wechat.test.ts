import { InvokeCommand } from '@aws-sdk/client-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { createTokenClient, TokenServiceError } from '../../client/src/index';
import { AUTHORIZER_APPID } from '../support/test-ids';
import {
  blob,
  CALL_WECHAT,
  errorAnswer,
  failure,
  GET_TOKEN,
  lambda,
  lambdaMock,
  payload,
  sent,
} from './lambda-mock';

/**
 * `client.wechat(appId)` and `client.componentWeChat()`: WeChat calls through the call-wechat Lambda, which
 * adds the token. What each method sends, how the answer is decoded, and how failures surface.
 */

const client = (timeoutMs?: number) =>
  createTokenClient({
    functionName: GET_TOKEN,
    callWeChatFunctionName: CALL_WECHAT,
    lambda,
    timeoutMs,
  });
const jsonAnswer = (body: unknown, status = 200) =>
  payload({ status, contentType: 'application/json', body });

beforeEach(() => {
  lambdaMock.reset();
});

describe('the requests sent to call-wechat', () => {
  it('get: the merchant, GET, the path and the query', async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: jsonAnswer({ errcode: 0 }) });
    const wechat = client().wechat(AUTHORIZER_APPID);

    await wechat.get('/cgi-bin/menu/get');
    await wechat.get('/cgi-bin/user/get', { next_openid: 'o1', count: 10, lang: true });

    expect(sent()).toEqual([
      {
        functionName: CALL_WECHAT,
        request: { authorizerAppId: AUTHORIZER_APPID, method: 'GET', path: '/cgi-bin/menu/get' },
      },
      {
        functionName: CALL_WECHAT,
        request: {
          authorizerAppId: AUTHORIZER_APPID,
          method: 'GET',
          path: '/cgi-bin/user/get',
          query: { next_openid: 'o1', count: 10, lang: true },
        },
      },
    ]);
  });

  it('post: the body as JSON, and the query when given', async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: jsonAnswer({ errcode: 0 }) });
    const wechat = client().wechat(AUTHORIZER_APPID);
    const menu = { button: [{ type: 'view', name: '官网', url: 'https://example.com/' }] };

    await wechat.post('/cgi-bin/menu/create', menu);
    await wechat.post('/wxa/getwxacodeunlimit', { scene: 'a=1' }, { env: 'release' });

    expect(sent().map((s) => s.request)).toEqual([
      {
        authorizerAppId: AUTHORIZER_APPID,
        method: 'POST',
        path: '/cgi-bin/menu/create',
        body: menu,
      },
      {
        authorizerAppId: AUTHORIZER_APPID,
        method: 'POST',
        path: '/wxa/getwxacodeunlimit',
        query: { env: 'release' },
        body: { scene: 'a=1' },
      },
    ]);
  });

  it('upload: the bytes as bodyBase64 with their content type, and no body', async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: jsonAnswer({ media_id: 'm1' }) });
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255, 10, 13]);
    const inside = new Uint8Array([9, 9, ...bytes, 9]).subarray(2, 2 + bytes.length);

    await client()
      .wechat(AUTHORIZER_APPID)
      .upload('/cgi-bin/media/upload', inside, 'multipart/form-data; boundary=x', {
        type: 'image',
      });

    expect(sent().map((s) => s.request)).toEqual([
      {
        authorizerAppId: AUTHORIZER_APPID,
        method: 'POST',
        path: '/cgi-bin/media/upload',
        query: { type: 'image' },
        bodyBase64: Buffer.from(bytes).toString('base64'),
        contentType: 'multipart/form-data; boundary=x',
      },
    ]);
  });

  it('componentWeChat: component instead of a merchant, with tokenParam only when asked', async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: jsonAnswer({ errcode: 0 }) });
    const tokens = client();
    const query = { appid: AUTHORIZER_APPID, js_code: 'c1', grant_type: 'authorization_code' };

    await tokens.componentWeChat().get('/sns/component/jscode2session', query);
    await tokens
      .componentWeChat({ tokenParam: 'access_token' })
      .post('/cgi-bin/component/fastregisterweapp', { name: 'n' }, { action: 'create' });
    await tokens
      .componentWeChat()
      .upload('/cgi-bin/component/uploadprivacyextfile', new Uint8Array([1]), 'text/plain');

    expect(sent().map((s) => s.request)).toEqual([
      { component: true, method: 'GET', path: '/sns/component/jscode2session', query },
      {
        component: true,
        tokenParam: 'access_token',
        method: 'POST',
        path: '/cgi-bin/component/fastregisterweapp',
        query: { action: 'create' },
        body: { name: 'n' },
      },
      {
        component: true,
        method: 'POST',
        path: '/cgi-bin/component/uploadprivacyextfile',
        bodyBase64: 'AQ==',
        contentType: 'text/plain',
      },
    ]);
    expect(sent().every((s) => s.functionName === CALL_WECHAT)).toBe(true);
  });

  it('caches nothing: every call is an invoke, and tokens still come from get-token', async () => {
    lambdaMock.on(InvokeCommand, { FunctionName: CALL_WECHAT }).resolves({
      Payload: jsonAnswer({ errcode: 0 }),
    });
    lambdaMock.on(InvokeCommand, { FunctionName: GET_TOKEN }).resolves({
      Payload: payload({
        appId: AUTHORIZER_APPID,
        accessToken: 't',
        expiresAt: '2099-01-01T00:00:00Z',
      }),
    });
    const tokens = client();

    for (let i = 0; i < 3; i++) await tokens.wechat(AUTHORIZER_APPID).get('/cgi-bin/menu/get');
    await tokens.getAuthorizerToken(AUTHORIZER_APPID);

    expect(sent().map((s) => s.functionName)).toEqual([
      CALL_WECHAT,
      CALL_WECHAT,
      CALL_WECHAT,
      GET_TOKEN,
    ]);
  });

  it('needs callWeChatFunctionName', () => {
    const tokens = createTokenClient({ functionName: GET_TOKEN, lambda });

    expect(() => tokens.wechat(AUTHORIZER_APPID)).toThrow(/callWeChatFunctionName/);
    expect(() => tokens.componentWeChat()).toThrow(TypeError);
  });
});

describe('the answers', () => {
  it('a JSON answer resolves to status, contentType and body', async () => {
    const body = { errcode: 0, menu: { button: [] } };
    lambdaMock.on(InvokeCommand).resolves({ Payload: jsonAnswer(body) });

    const response = await client().wechat(AUTHORIZER_APPID).get('/cgi-bin/menu/get');

    expect(response).toEqual({ status: 200, contentType: 'application/json', body });
  });

  it("WeChat's own errcodes are an answer, not a rejection", async () => {
    const body = { errcode: 48001, errmsg: 'api unauthorized' };
    lambdaMock.on(InvokeCommand).resolves({ Payload: jsonAnswer(body) });

    const response = await client().componentWeChat().get('/sns/component/jscode2session');

    expect(response).toEqual({ status: 200, contentType: 'application/json', body });
  });

  it('a binary answer resolves to its decoded bytes', async () => {
    const jpeg = new Uint8Array([
      0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0xff, 0xd9,
    ]);
    lambdaMock.on(InvokeCommand).resolves({
      Payload: payload({
        status: 200,
        contentType: 'image/jpeg',
        bodyBase64: Buffer.from(jpeg).toString('base64'),
      }),
    });

    const response = await client()
      .wechat(AUTHORIZER_APPID)
      .post('/wxa/getwxacodeunlimit', { scene: 'a=1' });

    expect(response).toEqual({ status: 200, contentType: 'image/jpeg', bytes: jpeg });
    expect(response.bytes).toBeInstanceOf(Uint8Array);
    expect(response).not.toHaveProperty('body');
  });

  it("passes WeChat's HTTP status and an answer without a body through", async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: payload({ status: 204, contentType: '' }) });

    const response = await client().wechat(AUTHORIZER_APPID).get('/cgi-bin/nothing');

    expect(response).toEqual({ status: 204, contentType: '' });
  });
});

describe('failures are TokenServiceErrors with a stable code', () => {
  it.each([
    ['invalid_request', false],
    ['payload_too_large', false],
    ['authorizer_not_found', false],
    ['authorizer_revoked', false],
    ['needs_reauthorization', false],
    ['ticket_unavailable', true],
    ['upstream_unavailable', true],
  ])('call-wechat answers %s', async (code, retryable) => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: errorAnswer(code) });

    const error = await failure(client().wechat(AUTHORIZER_APPID).post('/cgi-bin/x', {}));

    expect(error).toBeInstanceOf(TokenServiceError);
    expect(error).toMatchObject({ code, message: `${code} happened`, retryable });
  });

  it('a function error is function_error, named after call-wechat', async () => {
    lambdaMock.on(InvokeCommand).resolves({
      FunctionError: 'Unhandled',
      Payload: payload({ errorType: 'Runtime.ExitError', errorMessage: 'exited' }),
    });

    const error = await failure(client().componentWeChat().get('/sns/component/jscode2session'));

    expect(error).toMatchObject({
      code: 'function_error',
      message: 'call-wechat failed (Unhandled: Runtime.ExitError)',
      retryable: false,
    });
  });

  it.each([
    ['not JSON', blob(new TextEncoder().encode('<html>'))],
    ['no payload', undefined],
    ['an array', payload([1])],
    ['no status', payload({ contentType: 'application/json', body: {} })],
    ['a status that is not a number', payload({ status: '200', contentType: 'text/plain' })],
    ['no contentType', payload({ status: 200, body: {} })],
    [
      'bodyBase64 that is not base64',
      payload({ status: 200, contentType: 'a/b', bodyBase64: '@@' }),
    ],
    ['an error without a code', payload({ error: { message: 'no code' } })],
  ])('an answer with %s is malformed_response', async (_name, body) => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: body });

    const error = await failure(client().wechat(AUTHORIZER_APPID).get('/cgi-bin/menu/get'));

    expect(error).toMatchObject({ name: 'TokenServiceError', code: 'malformed_response' });
    expect((error as Error).message).toMatch(/^call-wechat answered /);
  });

  it('the Lambda API refusing the invoke is invoke_failed', async () => {
    lambdaMock
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('no such function'), { name: 'ResourceNotFoundException' }));

    const error = await failure(client().wechat(AUTHORIZER_APPID).get('/cgi-bin/menu/get'));

    expect(error).toMatchObject({ code: 'invoke_failed', retryable: false });
  });

  it('an invoke that does not answer within timeoutMs is timeout', async () => {
    lambdaMock.on(InvokeCommand).callsFake(() => new Promise(() => {}));

    const error = await failure(client(50).wechat(AUTHORIZER_APPID).get('/cgi-bin/menu/get'));

    expect(error).toMatchObject({
      code: 'timeout',
      message: 'call-wechat did not answer within 50 ms',
      retryable: true,
    });
  });
});
