import { createServer, type Server } from 'node:http';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTokenClient, TokenServiceError } from '../../client/src/index';
import { LAMBDA_INVOKE_ROUTE, lambdaInvokeApi } from '../../local/lambda-invoke';
import { invocationContext, type LocalService, startLocalService } from '../../local/local-service';
import { SUPERSEDED_OVERLAP_MS } from '../../shared/policy';
import { freePort } from '../e2e/sandbox-process';
import { authorizeMerchant, type Harness, startHarness } from '../support/harness';
import { AUTHORIZER_APPID } from '../support/test-ids';

/**
 * The client package against the sandbox through Lambda's Invoke API: a real `LambdaClient` with only an
 * endpoint override, the real get-token handler, dynalite and the WeChat simulator. Invokes are counted where
 * they arrive, at the sandbox's HTTP server.
 */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const credentials = { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' };
const lambdaAt = (endpoint: string) =>
  new LambdaClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });

let h: Harness;
let invokes = 0;

beforeAll(async () => {
  h = await startHarness();
  await authorizeMerchant(h, AUTHORIZER_APPID);
  h.service.server.on('request', (request) => {
    if (request.url?.includes('/invocations')) invokes += 1;
  });
});
afterAll(() => h?.close());
beforeEach(() => {
  invokes = 0;
});

const sandboxClient = () =>
  createTokenClient({
    functionName: 'get-token',
    lambda: lambdaAt(h.service.url),
    clock: h.clock.read,
  });

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error
  );

describe('the client against the sandbox', () => {
  it('gets the same tokens the Lambda answers, then serves them without invoking', async () => {
    const tokens = sandboxClient();
    const direct = await h.token({ authorizerAppId: AUTHORIZER_APPID });
    const component = await h.token({ component: true });

    const first = await tokens.getAuthorizerToken(AUTHORIZER_APPID);
    const firstComponent = await tokens.getComponentToken();
    const invokesAfterFirst = invokes;
    for (let i = 0; i < 50; i++) {
      expect(await tokens.getAuthorizerToken(AUTHORIZER_APPID)).toBe(first);
      expect(await tokens.getComponentToken()).toBe(firstComponent);
    }

    expect(first).toBe(direct.accessToken);
    expect(firstComponent).toBe(component.accessToken);
    expect(invokesAfterFirst).toBe(2);
    expect(invokes).toBe(2);
  });

  it('makes one invoke for 500 concurrent first calls', async () => {
    const tokens = sandboxClient();

    const answers = await Promise.all(
      Array.from({ length: 500 }, () => tokens.getAuthorizerToken(AUTHORIZER_APPID))
    );

    expect(new Set(answers).size).toBe(1);
    expect(answers[0]).toEqual(expect.any(String));
    expect(invokes).toBe(1);
  });

  it('on a 40001 from WeChat makes exactly one refresh and one retry', async () => {
    const tokens = sandboxClient();
    const rejected = await tokens.getAuthorizerToken(AUTHORIZER_APPID);
    h.simulator.renewElsewhere(AUTHORIZER_APPID);
    h.clock.advance(SUPERSEDED_OVERLAP_MS + 1);
    const refreshesBefore = h.simulator.callCount('api_authorizer_token');
    const invokesBefore = invokes;
    const seen: string[] = [];

    const result = await tokens.withAuthorizerToken(AUTHORIZER_APPID, (token) => {
      seen.push(token);
      return token === rejected
        ? { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' }
        : { errcode: 0, valid: h.simulator.tokenStatus(token) };
    });

    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(rejected);
    expect(seen[1]).not.toBe(rejected);
    expect(result).toEqual({ errcode: 0, valid: 'valid' });
    expect(h.simulator.callCount('api_authorizer_token') - refreshesBefore).toBe(1);
    expect(invokes - invokesBefore).toBe(1);
    expect(await tokens.getAuthorizerToken(AUTHORIZER_APPID)).toBe(seen[1]);
    expect(invokes - invokesBefore).toBe(1);
  });

  it.each([
    ['authorizer_not_found', 'wxc11e0t0unknown001'],
    ['invalid_request', 'not-an-appid'],
  ])('answers %s as a coded error', async (code, appId) => {
    const error = await failure(sandboxClient().getAuthorizerToken(appId));

    expect(error).toBeInstanceOf(TokenServiceError);
    expect(error).toMatchObject({ code });
  });

  it('answers authorizer_revoked after the merchant revokes', async () => {
    const revoked = 'wxc11e0t0revoked001';
    await authorizeMerchant(h, revoked);
    await h.simulator.pushUnauthorized(revoked);

    const error = await failure(sandboxClient().getAuthorizerToken(revoked));

    expect(error).toMatchObject({ name: 'TokenServiceError', code: 'authorizer_revoked' });
  });

  it('answers invoke_failed for a function the sandbox does not have', async () => {
    const tokens = createTokenClient({
      functionName: 'arn:aws:lambda:us-east-1:123456789012:function:no-such-function',
      lambda: lambdaAt(h.service.url),
    });

    const error = await failure(tokens.getComponentToken());

    expect(error).toMatchObject({ code: 'invoke_failed', retryable: false });
    expect((error as Error).message).toContain('ResourceNotFoundException');
  });
});

describe('the client when the function or the endpoint misbehaves', () => {
  const servers: { close(): Promise<void> | void }[] = [];
  afterAll(async () => {
    for (const server of servers) await server.close();
  });

  /** A sandbox service whose get-token is `fn` instead of the real handler. */
  async function serviceWith(fn: (payload: unknown) => Promise<unknown>): Promise<LocalService> {
    const service = await startLocalService(h.deps, {
      routes: {
        [LAMBDA_INVOKE_ROUTE]: lambdaInvokeApi({ 'get-token': fn }, (name) =>
          invocationContext(name, 10_000)
        ),
      },
    });
    servers.push(service);
    return service;
  }

  const clientFor = (url: string, timeoutMs?: number) =>
    createTokenClient({ functionName: 'get-token', lambda: lambdaAt(url), timeoutMs });

  it('an unhandled error in the function is function_error', async () => {
    const service = await serviceWith(async () => {
      throw new TypeError('boom');
    });

    const error = await failure(clientFor(service.url).getComponentToken());

    expect(error).toMatchObject({
      code: 'function_error',
      message: expect.stringContaining('TypeError'),
    });
  });

  it.each([
    ['no token', { appId: AUTHORIZER_APPID }],
    ['a string', 'token'],
    ['nothing', undefined],
  ])('an answer with %s is malformed_response', async (_name, answer) => {
    const service = await serviceWith(async () => answer);

    const error = await failure(clientFor(service.url).getAuthorizerToken(AUTHORIZER_APPID));

    expect(error).toMatchObject({ code: 'malformed_response' });
  });

  it('an endpoint that never answers is timeout', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    servers.push({
      close: () =>
        new Promise<void>((resolve) => {
          silent.closeAllConnections();
          silent.close(() => resolve());
        }),
    });
    const { port } = silent.address() as { port: number };

    const error = await failure(clientFor(`http://127.0.0.1:${port}`, 300).getComponentToken());

    expect(error).toMatchObject({ code: 'timeout', retryable: true });
  });

  it('an endpoint nobody listens on is endpoint_unreachable', async () => {
    const port = await freePort();

    const error = await failure(clientFor(`http://127.0.0.1:${port}`).getComponentToken());

    expect(error).toMatchObject({ code: 'endpoint_unreachable', retryable: true });
  });
});
