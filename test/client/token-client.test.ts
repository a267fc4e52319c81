import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createTokenClient, TokenServiceError } from '../../client/src/index';
import { AUTHORIZER_APPID, MINUTE, OTHER_AUTHORIZER_APPID, T0 } from '../support/test-ids';

const FUNCTION = 'wechat-token-service-get-token';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Bytes as the SDK hands them out (a Uint8Array subclass; the client reads only the bytes). */
const blob = (bytes: Uint8Array) => bytes as InvokeCommandOutput['Payload'];
const payload = (value: unknown) => blob(encoder.encode(JSON.stringify(value)));
const tokenAnswer = (
  accessToken: string,
  expiresAt = T0 + 100 * MINUTE,
  appId = AUTHORIZER_APPID
) => payload({ appId, accessToken, expiresAt: new Date(expiresAt).toISOString() });
const errorAnswer = (code: string) => payload({ error: { code, message: `${code} happened` } });

const lambda = new LambdaClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
const lambdaMock = mockClient(lambda);

/** The get-token requests the client sent, parsed. */
const sentRequests = () =>
  lambdaMock
    .commandCalls(InvokeCommand)
    .map((call) => JSON.parse(decoder.decode(call.args[0].input.Payload as Uint8Array)));

let now: number;
const client = () => createTokenClient({ functionName: FUNCTION, lambda, clock: () => now });

/** A rejection's value, so that it can be matched field by field. */
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error
  );

beforeEach(() => {
  lambdaMock.reset();
  now = T0;
});

describe('caching', () => {
  it('invokes get-token once and serves later calls from the cache', async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: tokenAnswer('token-1') });
    const tokens = client();

    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await tokens.getAuthorizerToken(AUTHORIZER_APPID));

    expect(answers).toEqual(Array(20).fill('token-1'));
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(lambdaMock).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: FUNCTION });
    expect(sentRequests()).toEqual([{ authorizerAppId: AUTHORIZER_APPID }]);
  });

  it('invokes again only once the token is within a minute of its expiresAt', async () => {
    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({ Payload: tokenAnswer('token-1', T0 + 10 * MINUTE) })
      .resolvesOnce({ Payload: tokenAnswer('token-2', T0 + 30 * MINUTE) });
    const tokens = client();
    await tokens.getAuthorizerToken(AUTHORIZER_APPID);

    now = T0 + 9 * MINUTE - 1;
    const before = await tokens.getAuthorizerToken(AUTHORIZER_APPID);
    now = T0 + 9 * MINUTE;
    const after = await tokens.getAuthorizerToken(AUTHORIZER_APPID);

    expect([before, after]).toEqual(['token-1', 'token-2']);
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 2);
  });

  it('shares one invoke among 500 concurrent first calls for one merchant', async () => {
    lambdaMock.on(InvokeCommand).callsFake(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { Payload: tokenAnswer('token-1') };
    });
    const tokens = client();

    const answers = await Promise.all(
      Array.from({ length: 500 }, () => tokens.getAuthorizerToken(AUTHORIZER_APPID))
    );

    expect(new Set(answers)).toEqual(new Set(['token-1']));
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 1);
  });

  it('keeps merchants and the component token apart', async () => {
    lambdaMock.on(InvokeCommand).callsFake(async (input: { Payload: Uint8Array }) => {
      const request = JSON.parse(decoder.decode(input.Payload));
      return { Payload: tokenAnswer(`token-for-${request.authorizerAppId ?? 'component'}`) };
    });
    const tokens = client();

    const answers = await Promise.all([
      tokens.getAuthorizerToken(AUTHORIZER_APPID),
      tokens.getAuthorizerToken(OTHER_AUTHORIZER_APPID),
      tokens.getComponentToken(),
      tokens.getComponentToken(),
    ]);

    expect(answers).toEqual([
      `token-for-${AUTHORIZER_APPID}`,
      `token-for-${OTHER_AUTHORIZER_APPID}`,
      'token-for-component',
      'token-for-component',
    ]);
    expect(sentRequests()).toEqual([
      { authorizerAppId: AUTHORIZER_APPID },
      { authorizerAppId: OTHER_AUTHORIZER_APPID },
      { component: true },
    ]);
  });

  it('hands out a token with less than the margin left but does not keep it', async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: tokenAnswer('short', T0 + 30_000) });
    const tokens = client();

    await tokens.getComponentToken();
    const again = await tokens.getComponentToken();

    expect(again).toBe('short');
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 2);
  });

  it.each([
    [
      'the service answering upstream_unavailable',
      { Payload: errorAnswer('upstream_unavailable') },
    ],
    [
      'the endpoint refusing the connection',
      Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
    ],
    [
      'the Lambda API throttling',
      Object.assign(new Error('slow down'), { name: 'TooManyRequestsException' }),
    ],
  ])(
    'serves the cached token in its last minute, until its expiresAt, despite %s',
    async (_name, failed) => {
      const answered = lambdaMock
        .on(InvokeCommand)
        .resolvesOnce({ Payload: tokenAnswer('token-1', T0 + 10 * MINUTE) });
      if (failed instanceof Error) answered.rejects(failed);
      else answered.resolves(failed);
      const tokens = client();
      await tokens.getAuthorizerToken(AUTHORIZER_APPID);

      now = T0 + 9 * MINUTE;
      const inMargin = await tokens.getAuthorizerToken(AUTHORIZER_APPID);
      now = T0 + 10 * MINUTE - 1;
      const lastMoment = await tokens.getAuthorizerToken(AUTHORIZER_APPID);
      now = T0 + 10 * MINUTE;
      const expired = await failure(tokens.getAuthorizerToken(AUTHORIZER_APPID));

      expect([inMargin, lastMoment]).toEqual(['token-1', 'token-1']);
      expect(expired).toBeInstanceOf(TokenServiceError);
      expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 4);
    }
  );

  it('does not serve the cached token in place of a verdict, nor after one', async () => {
    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({ Payload: tokenAnswer('token-1', T0 + 10 * MINUTE) })
      .resolvesOnce({ Payload: errorAnswer('authorizer_revoked') })
      .resolves({ Payload: errorAnswer('upstream_unavailable') });
    const tokens = client();
    await tokens.getAuthorizerToken(AUTHORIZER_APPID);
    now = T0 + 9 * MINUTE;

    const revoked = await failure(tokens.getAuthorizerToken(AUTHORIZER_APPID));
    const after = await failure(tokens.getAuthorizerToken(AUTHORIZER_APPID));

    expect(revoked).toMatchObject({ code: 'authorizer_revoked' });
    expect(after).toMatchObject({ code: 'upstream_unavailable' });
  });

  it('does not serve the token being reported when its renewal fails', async () => {
    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({ Payload: tokenAnswer('token-1', T0 + 10 * MINUTE) })
      .resolves({ Payload: errorAnswer('upstream_unavailable') });
    const tokens = client();
    await tokens.getAuthorizerToken(AUTHORIZER_APPID);

    const reported = await failure(
      tokens.getAuthorizerToken(AUTHORIZER_APPID, { invalidToken: 'token-1' })
    );

    expect(reported).toMatchObject({ code: 'upstream_unavailable' });
  });

  it('does not cache failures', async () => {
    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({ Payload: errorAnswer('upstream_unavailable') })
      .resolvesOnce({ Payload: tokenAnswer('token-1') });
    const tokens = client();

    const first = await failure(tokens.getAuthorizerToken(AUTHORIZER_APPID));
    const second = await tokens.getAuthorizerToken(AUTHORIZER_APPID);

    expect(first).toMatchObject({ code: 'upstream_unavailable', retryable: true });
    expect(second).toBe('token-1');
  });
});

describe('a token WeChat rejects', () => {
  const rejectedOnce = () => {
    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({ Payload: tokenAnswer('old') })
      .resolvesOnce({ Payload: tokenAnswer('new') });
  };

  it('is reported once and the call retried once with the new token (errcode in the result)', async () => {
    rejectedOnce();
    const tokens = client();
    const seen: string[] = [];

    const result = await tokens.withAuthorizerToken(AUTHORIZER_APPID, async (token) => {
      seen.push(token);
      return token === 'old' ? { errcode: 40001, errmsg: 'invalid credential' } : { errcode: 0 };
    });

    expect(result).toEqual({ errcode: 0 });
    expect(seen).toEqual(['old', 'new']);
    expect(sentRequests()).toEqual([
      { authorizerAppId: AUTHORIZER_APPID },
      { authorizerAppId: AUTHORIZER_APPID, invalidToken: 'old' },
    ]);
    expect(await tokens.getAuthorizerToken(AUTHORIZER_APPID)).toBe('new');
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 2);
  });

  it.each([
    ['an error with errcode 42001', Object.assign(new Error('expired'), { errcode: 42001 })],
    ['an HTTP library error with data.errcode 40014', { response: { data: { errcode: 40014 } } }],
    ['an error whose cause has errcode 40001', new Error('wrapped', { cause: { errcode: 40001 } })],
  ])('is recognised in a thrown %s', async (_name, thrown) => {
    rejectedOnce();
    const tokens = client();
    const seen: string[] = [];

    const result = await tokens.withComponentToken(async (token) => {
      seen.push(token);
      if (token === 'old') throw thrown;
      return 'done';
    });

    expect(result).toBe('done');
    expect(seen).toEqual(['old', 'new']);
    expect(sentRequests()).toEqual([{ component: true }, { component: true, invalidToken: 'old' }]);
  });

  it('is retried at most once: a second rejection is returned as is', async () => {
    rejectedOnce();
    const tokens = client();
    let calls = 0;

    const result = await tokens.withAuthorizerToken(AUTHORIZER_APPID, () => {
      calls += 1;
      return { errcode: 40001 };
    });

    expect(result).toEqual({ errcode: 40001 });
    expect(calls).toBe(2);
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 2);
  });

  it('leaves other WeChat errors and plain errors alone', async () => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: tokenAnswer('old') });
    const tokens = client();
    let calls = 0;

    const quota = await tokens.withAuthorizerToken(AUTHORIZER_APPID, () => {
      calls += 1;
      return { errcode: 45009 };
    });
    const thrown = await failure(
      tokens.withAuthorizerToken(AUTHORIZER_APPID, () => {
        calls += 1;
        throw new Error('socket hang up');
      })
    );

    expect(quota).toEqual({ errcode: 45009 });
    expect(thrown).toMatchObject({ message: 'socket hang up' });
    expect(calls).toBe(2);
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 1);
  });

  it('is reported by one invoke however many callers saw it rejected', async () => {
    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({ Payload: tokenAnswer('old') })
      .callsFake(async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return { Payload: tokenAnswer('new') };
      });
    const tokens = client();
    await tokens.getAuthorizerToken(AUTHORIZER_APPID);

    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        tokens.withAuthorizerToken(AUTHORIZER_APPID, (token) =>
          token === 'old' ? { errcode: 40001 } : token
        )
      )
    );

    expect(new Set(answers)).toEqual(new Set(['new']));
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 2);
  });

  it('is not served to a plain call that starts while the report is on its way', async () => {
    let release: () => void = () => {};
    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({ Payload: tokenAnswer('old') })
      .callsFake(async () => {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return { Payload: tokenAnswer('new') };
      });
    const tokens = client();
    await tokens.getAuthorizerToken(AUTHORIZER_APPID);

    const report = tokens.getAuthorizerToken(AUTHORIZER_APPID, { invalidToken: 'old' });
    const plain = tokens.getAuthorizerToken(AUTHORIZER_APPID);
    await new Promise((resolve) => setTimeout(resolve, 10));
    release();

    expect(await Promise.all([report, plain])).toEqual(['new', 'new']);
    expect(lambdaMock).toHaveReceivedCommandTimes(InvokeCommand, 2);
  });
});

describe('failures are TokenServiceErrors with a stable code', () => {
  it.each([
    'authorizer_not_found',
    'authorizer_revoked',
    'needs_reauthorization',
    'authorizer_without_api_permission',
    'authorization_code_needed',
    'ticket_unavailable',
    'invalid_request',
    'upstream_unavailable',
  ])('the service answers %s', async (code) => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: errorAnswer(code) });

    const error = await failure(client().getAuthorizerToken(AUTHORIZER_APPID));

    expect(error).toBeInstanceOf(TokenServiceError);
    expect(error).toMatchObject({ code, message: `${code} happened` });
  });

  it('a function error (X-Amz-Function-Error) is function_error, whatever the payload says', async () => {
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: payload({ errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out' }),
    });

    const error = await failure(client().getComponentToken());

    expect(error).toMatchObject({
      name: 'TokenServiceError',
      code: 'function_error',
      message: 'get-token failed (Unhandled: Sandbox.Timedout)',
      retryable: false,
    });
  });

  it.each([
    ['not JSON', blob(encoder.encode('<html>'))],
    ['no payload', undefined],
    ['null', payload(null)],
    ['no accessToken', payload({ appId: AUTHORIZER_APPID, expiresAt: new Date(T0).toISOString() })],
    ['an empty accessToken', payload({ accessToken: '', expiresAt: new Date(T0).toISOString() })],
    ['no expiresAt', payload({ accessToken: 'token-1' })],
    ['an unreadable expiresAt', payload({ accessToken: 'token-1', expiresAt: 'soon' })],
    ['an error without a code', payload({ error: { message: 'no code' } })],
  ])('an answer with %s is malformed_response', async (_name, body) => {
    lambdaMock.on(InvokeCommand).resolves({ Payload: body });

    const error = await failure(client().getAuthorizerToken(AUTHORIZER_APPID));

    expect(error).toMatchObject({ name: 'TokenServiceError', code: 'malformed_response' });
  });

  it.each([
    ['ResourceNotFoundException', 'invoke_failed', false],
    ['AccessDeniedException', 'invoke_failed', false],
    ['TooManyRequestsException', 'invoke_failed', true],
    ['TimeoutError', 'timeout', true],
  ])('the Lambda API throwing %s is %s', async (name, code, retryable) => {
    lambdaMock.on(InvokeCommand).rejects(Object.assign(new Error(`${name} from AWS`), { name }));

    const error = await failure(client().getAuthorizerToken(AUTHORIZER_APPID));

    expect(error).toMatchObject({ name: 'TokenServiceError', code, retryable });
    expect((error as Error).cause).toMatchObject({ name });
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND'])(
    'a network %s is endpoint_unreachable',
    async (errno) => {
      lambdaMock
        .on(InvokeCommand)
        .rejects(Object.assign(new Error(`connect ${errno}`), { code: errno }));

      const error = await failure(client().getAuthorizerToken(AUTHORIZER_APPID));

      expect(error).toMatchObject({ code: 'endpoint_unreachable', retryable: true });
    }
  );

  it('an invoke that does not answer within timeoutMs is timeout', async () => {
    lambdaMock.on(InvokeCommand).callsFake(() => new Promise(() => {}));
    const tokens = createTokenClient({ functionName: FUNCTION, lambda, timeoutMs: 50 });

    const error = await failure(tokens.getAuthorizerToken(AUTHORIZER_APPID));

    expect(error).toMatchObject({ code: 'timeout', retryable: true });
  });

  it('refuses to be created without a function name', () => {
    expect(() => createTokenClient({ functionName: '' })).toThrow(/functionName is required/);
  });
});
