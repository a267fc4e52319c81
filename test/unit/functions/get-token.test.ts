import type { Context } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { createHandler, makeHandler, parseGetTokenRequest } from '../../../functions/get-token';
import type { Deps } from '../../../functions/lib/deps';
import { inLambda } from '../../../functions/lib/invoked';
import {
  InvalidRequestError,
  UpstreamUnavailableError,
  WechatApiError,
} from '../../../shared/errors';
import { MemoryTokenStore } from '../../support/memory-token-store';
import { AUTHORIZER_APPID as A, COMPONENT_APPID, T0 } from '../../support/test-ids';
import { handlerDeps, storeComponentToken } from '../../support/token-context';

const C = COMPONENT_APPID;

const depsWith = (store: MemoryTokenStore, api: Partial<Deps['api']> = {}) =>
  handlerDeps(store, api, T0);

async function storeWithAuthorizer(expiresAt = T0 + 3_600_000) {
  const store = new MemoryTokenStore();
  await store.saveAuthorization(
    {
      componentAppId: C,
      authorizerAppId: A,
      accessToken: 'stored-access-token',
      expiresAt,
      refreshToken: 'stored-refresh-token',
      funcInfo: [1],
      refreshAt: expiresAt - 900_000,
      authorizedAt: T0 - 1000,
    },
    T0 - 1000
  );
  return store;
}

/** An authorizer token expiring at `expiresAt` and a valid component token. */
async function storeWithTokens(expiresAt: number) {
  const store = await storeWithAuthorizer(expiresAt);
  await storeComponentToken(store);
  return store;
}

describe('get-token', () => {
  it('returns the stored token with one read and no WeChat call', async () => {
    const store = await storeWithAuthorizer();
    const handler = createHandler(async () => depsWith(store));
    expect(await handler({ authorizerAppId: A })).toEqual({
      appId: A,
      accessToken: 'stored-access-token',
      // The promise: the planned renewal (15 min before the nominal expiry) plus WeChat's 5-minute overlap.
      expiresAt: new Date(T0 + 3_600_000 - 900_000 + 300_000).toISOString(),
    });
  });

  it.each([
    [{ authorizerAppId: 'wxunknown00000000' }, 'authorizer_not_found'],
    [{}, 'invalid_request'],
    [{ component: false }, 'invalid_request'],
  ])('answers %j with error %s', async (request, code) => {
    const handler = createHandler(async () => depsWith(await storeWithAuthorizer()));
    expect(await handler(request)).toMatchObject({ error: { code } });
  });

  /** A stored authorizer token expiring at `expiresAt`, a valid component token, and WeChat failing. */
  async function failingRefresh(expiresAt: number) {
    const store = await storeWithTokens(expiresAt);
    const handler = createHandler(async () =>
      depsWith(store, {
        apiAuthorizerToken: async () => {
          throw new UpstreamUnavailableError('wechat_busy');
        },
      })
    );
    return { store, handler };
  }

  it('keeps serving a token that is inside the refresh margin but still valid when the refresh fails', async () => {
    const { handler } = await failingRefresh(T0 + 60_000);
    expect(await handler({ authorizerAppId: A })).toMatchObject({
      accessToken: 'stored-access-token',
    });
  });

  it('answers upstream_unavailable without details when a needed refresh fails and no valid token is left', async () => {
    const { store, handler } = await failingRefresh(T0 - 1);
    expect(await handler({ authorizerAppId: A })).toEqual({
      error: {
        code: 'upstream_unavailable',
        message: 'a token could not be obtained from WeChat just now; retry shortly',
      },
    });
    expect((await store.getAuthorizer(C, A))?.accessToken).toBe('stored-access-token');
  });
});

describe('parseGetTokenRequest', () => {
  it.each([
    [{ authorizerAppId: A }, { authorizerAppId: A }],
    [
      { authorizerAppId: A, invalidToken: 'x' },
      { authorizerAppId: A, invalidToken: 'x' },
    ],
    [{ component: true }, { component: true }],
    [
      { authorizerAppId: A, ticket: 'jsapi' },
      { authorizerAppId: A, ticket: 'jsapi' },
    ],
    [
      { authorizerAppId: A, ticket: 'wx_card', invalidTicket: 't' },
      { authorizerAppId: A, ticket: 'wx_card', invalidTicket: 't' },
    ],
  ])('accepts %j', (input, expected) => {
    expect(parseGetTokenRequest(input)).toEqual(expected);
  });

  it.each([
    ['null', null, 'JSON object'],
    ['an array', [A], 'JSON object'],
    ['a string', A, 'JSON object'],
    ['an unknown field', { authorizerAppId: A, tenant: 'x' }, 'unknown field(s): "tenant"'],
    [
      '__proto__',
      JSON.parse(`{"authorizerAppId":"${A}","__proto__":{"admin":true}}`),
      '"__proto__"',
    ],
    ['an empty appid', { authorizerAppId: '' }, 'authorizerAppId must be an appid'],
    ['a "null" appid', { authorizerAppId: 'null' }, 'authorizerAppId must be an appid'],
    ['a numeric appid', { authorizerAppId: 42 }, 'authorizerAppId must be an appid'],
    ['both kinds', { authorizerAppId: A, component: true }, 'not both'],
    ['component as a string', { component: 'true' }, 'component must be true'],
    ['an empty invalidToken', { authorizerAppId: A, invalidToken: '' }, 'invalidToken'],
    ['a numeric invalidToken', { authorizerAppId: A, invalidToken: 1 }, 'invalidToken'],
    ['an unknown ticket type', { authorizerAppId: A, ticket: 'card' }, '"jsapi" or "wx_card"'],
    ['a ticket type of another case', { authorizerAppId: A, ticket: 'JSAPI' }, '"jsapi"'],
    ['a ticket that is not a string', { authorizerAppId: A, ticket: true }, '"jsapi"'],
    ['a ticket of the platform', { component: true, ticket: 'jsapi' }, 'send authorizerAppId'],
    ['a ticket without an appid', { ticket: 'jsapi' }, 'authorizerAppId must be an appid'],
    [
      'a ticket reported as invalidToken',
      { authorizerAppId: A, ticket: 'jsapi', invalidToken: 'x' },
      'invalidTicket, not invalidToken',
    ],
    [
      'both reports',
      { authorizerAppId: A, ticket: 'jsapi', invalidToken: 'x', invalidTicket: 'y' },
      'either invalidToken or invalidTicket',
    ],
    ['invalidTicket without a ticket', { authorizerAppId: A, invalidTicket: 'y' }, '"ticket"'],
    [
      'an empty invalidTicket',
      { authorizerAppId: A, ticket: 'jsapi', invalidTicket: '' },
      'invalidTicket must be the non-empty ticket',
    ],
  ])('refuses %s', (_what, input, message) => {
    expect(() => parseGetTokenRequest(input)).toThrow(InvalidRequestError);
    expect(() => parseGetTokenRequest(input)).toThrow(message);
  });
});

describe('get-token: tickets', () => {
  /** A stored authorizer token, a component token, and WeChat's `getticket` counting its calls. */
  async function ticketHandler(getTicket?: Deps['api']['getTicket']) {
    const store = await storeWithTokens(T0 + 3_600_000);
    const calls: string[] = [];
    const handler = createHandler(async () =>
      depsWith(store, {
        getTicket:
          getTicket ??
          (async (token, type) => {
            calls.push(`${token}/${type}`);
            return { ticket: `${type}-${calls.length}`, expires_in: 7200 };
          }),
      })
    );
    return { store, handler, calls };
  }

  it('answers a ticket request with the ticket and its promise, fetched once with the authorizer token', async () => {
    const { handler, calls } = await ticketHandler();

    const first = await handler({ authorizerAppId: A, ticket: 'jsapi' });
    const second = await handler({ authorizerAppId: A, ticket: 'jsapi' });

    expect(first).toEqual({
      appId: A,
      ticket: 'jsapi-1',
      // Issued at T0 for 2 h: the planned renewal (T0 + 1 h 45) plus WeChat's 5-minute overlap.
      expiresAt: new Date(T0 + 6_600_000).toISOString(),
    });
    expect(second).toEqual(first);
    expect(calls).toEqual(['stored-access-token/jsapi']);
  });

  it('answers the card ticket apart from the JS-SDK one', async () => {
    const { handler } = await ticketHandler();

    await handler({ authorizerAppId: A, ticket: 'jsapi' });
    expect(await handler({ authorizerAppId: A, ticket: 'wx_card' })).toMatchObject({
      ticket: 'wx_card-2',
    });
  });

  it('answers jsapi_ticket_unavailable, with a message naming no ticket, when getticket fails', async () => {
    const { handler } = await ticketHandler(async () => {
      throw new WechatApiError('getTicket', 45009, 'quota', 'quota');
    });

    expect(await handler({ authorizerAppId: A, ticket: 'jsapi' })).toEqual({
      error: {
        code: 'jsapi_ticket_unavailable',
        message:
          'the jsapi ticket could not be obtained from WeChat (wechat_quota); try again shortly',
      },
    });
  });

  it('answers the authorizer’s status codes for a ticket request', async () => {
    const { handler } = await ticketHandler();

    expect(await handler({ authorizerAppId: 'wxunknown00000000', ticket: 'jsapi' })).toMatchObject({
      error: { code: 'authorizer_not_found' },
    });
  });

  it('answers jsapi_ticket_unavailable, not a timeout, when getticket hangs and no ticket is stored', async () => {
    const { handler } = await ticketHandler(() => new Promise<never>(() => undefined));

    const answer = await handler(
      { authorizerAppId: A, ticket: 'jsapi' },
      { getRemainingTimeInMillis: () => 1_500 }
    );

    expect(answer).toMatchObject({ error: { code: 'jsapi_ticket_unavailable' } });
  });
});

describe('get-token answers before its deadline', () => {
  const hangingWechat = { apiAuthorizerToken: () => new Promise<never>(() => undefined) };
  const lambdaContext = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs });

  it('answers with the still-valid stored token when WeChat hangs during a needed refresh', async () => {
    const store = await storeWithTokens(T0 + 60_000);
    const handler = createHandler(async () => depsWith(store, hangingWechat));
    const answer = await handler({ authorizerAppId: A }, lambdaContext(1_500));
    expect(answer).toMatchObject({ accessToken: 'stored-access-token' });
  });

  it('answers upstream_unavailable, not a timeout, when WeChat hangs and no valid token is left', async () => {
    const store = await storeWithTokens(T0 - 1);
    const handler = createHandler(async () => depsWith(store, hangingWechat));
    const answer = await handler({ authorizerAppId: A }, lambdaContext(1_500));
    expect(answer).toMatchObject({ error: { code: 'upstream_unavailable' } });
  });
});

describe('get-token as Lambda runs it (middy + Powertools)', () => {
  /** The context the Lambda runtime passes with an invocation. */
  const invocation: Context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'get-token',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:ap-east-1:123456789012:function:get-token',
    memoryLimitInMB: '512',
    awsRequestId: 'r-1',
    logGroupName: '/aws/lambda/get-token',
    logStreamName: '2026/01/01/[$LATEST]test',
    getRemainingTimeInMillis: () => 10_000,
    done() {},
    fail() {},
    succeed() {},
  };

  it('writes no log line on an ordinary success', async () => {
    const store = await storeWithAuthorizer();
    const deployed = inLambda(makeHandler(async () => depsWith(store)));
    const written: string[] = [];
    const capture = (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    };
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      const answer = await deployed({ authorizerAppId: A }, invocation);
      expect(answer).toMatchObject({ accessToken: 'stored-access-token' });
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(written).toEqual([]);
  });
});
