import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_INVOKE_ROUTE, lambdaInvokeApi, lambdaRouteKey } from '../../../local/lambda-invoke';
import {
  invocationContext,
  type LocalService,
  startLocalService,
} from '../../../local/local-service';
import { authorizeMerchant, type Harness, startHarness } from '../../support/harness';
import { AUTHORIZER_APPID } from '../../support/test-ids';

const invocations = (name: string) =>
  `/2015-03-31/functions/${encodeURIComponent(name)}/invocations`;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await authorizeMerchant(h, AUTHORIZER_APPID);
});
afterAll(() => h?.close());

async function invoke(
  path: string,
  body: string | Uint8Array | undefined,
  headers: Record<string, string> = {},
  base = h.service.url
) {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

/** A SigV4 Authorization header for `region` (the sandbox reads only its credential scope). */
const signedFor = (region: string) => ({
  authorization: `AWS4-HMAC-SHA256 Credential=AKID/20260101/${region}/lambda/aws4_request, SignedHeaders=host, Signature=0`,
});

describe('lambdaRouteKey', () => {
  it('maps every function invocations path onto the one Invoke API route', () => {
    expect(lambdaRouteKey('POST /2015-03-31/functions/get-token/invocations')).toBe(
      LAMBDA_INVOKE_ROUTE
    );
    expect(lambdaRouteKey('POST /2015-03-31/functions/arn%3Aaws%3Alambda%3Ax/invocations')).toBe(
      LAMBDA_INVOKE_ROUTE
    );
    expect(lambdaRouteKey('GET /2015-03-31/functions/get-token/invocations')).toBe(
      'GET /2015-03-31/functions/get-token/invocations'
    );
    expect(lambdaRouteKey('POST /local/token')).toBe('POST /local/token');
  });
});

describe('POST /2015-03-31/functions/{FunctionName}/invocations', () => {
  it('answers exactly what get-token answers, as Lambda does', async () => {
    const expected = await h.token({ authorizerAppId: AUTHORIZER_APPID });

    const answer = await invoke(
      invocations('get-token'),
      JSON.stringify({ authorizerAppId: AUTHORIZER_APPID }),
      { 'content-type': 'application/octet-stream' }
    );

    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual(expected);
    expect(answer.headers.get('x-amz-executed-version')).toBe('$LATEST');
    expect(answer.headers.get('x-amz-function-error')).toBeNull();
    expect(answer.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ['get-token', undefined],
    ['get-token:$LATEST', undefined],
    ['123456789012:function:get-token', 'eu-central-1'],
    ['arn:aws:lambda:us-east-1:123456789012:function:get-token', undefined],
    ['arn:aws:lambda:eu-central-1:123456789012:function:get-token', 'eu-central-1'],
    ['arn:aws-cn:lambda:cn-north-1:123456789012:function:get-token:$LATEST', 'cn-north-1'],
  ])('accepts the function as %s (signed for %s)', async (name, region) => {
    const answer = await invoke(
      invocations(name),
      JSON.stringify({ component: true }),
      region ? signedFor(region) : {}
    );

    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ accessToken: expect.any(String) });
  });

  it.each([
    ['eu-central-1', 'us-west-2'],
    ['ap-east-1', 'ap-southeast-1'],
    [undefined, 'eu-central-1'],
  ])(
    'answers ResourceNotFoundException for an ARN of another region (signed for %s, ARN in %s)',
    async (signed, region) => {
      const arn = `arn:aws:lambda:${region}:123456789012:function:get-token`;

      const answer = await invoke(
        invocations(arn),
        JSON.stringify({ component: true }),
        signed ? signedFor(signed) : {}
      );

      expect(answer.status).toBe(404);
      expect(answer.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
      expect(JSON.parse(answer.text)).toEqual({
        Type: 'User',
        message: `Function not found: arn:aws:lambda:${region}:000000000000:function:get-token`,
      });
    }
  );

  it.each([
    ['application/json', JSON.stringify({ component: true })],
    ['application/octet-stream', new TextEncoder().encode(JSON.stringify({ component: true }))],
    ['text/plain', JSON.stringify({ component: true })],
    ['application/x-www-form-urlencoded', JSON.stringify({ component: true })],
    ['binary/octet-stream', JSON.stringify({ component: true })],
  ])('reads a %s body', async (contentType, body) => {
    const answer = await invoke(invocations('get-token'), body, { 'content-type': contentType });

    expect(JSON.parse(answer.text)).toMatchObject({ accessToken: expect.any(String) });
  });

  it('passes an empty body as {} (get-token then refuses it, as deployed)', async () => {
    const answer = await invoke(invocations('get-token'), undefined);

    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({
      error: { code: 'invalid_request', message: expect.any(String) },
    });
  });

  it.each([
    ['another function', invocations('other-function'), 'other-function'],
    ['another qualifier', invocations('get-token:prod'), 'get-token:prod'],
    ['a Qualifier parameter', `${invocations('get-token')}?Qualifier=7`, 'get-token:7'],
    [
      'an ARN of another function',
      invocations('arn:aws:lambda:ap-east-1:123456789012:function:x'),
      'x',
    ],
  ])('answers ResourceNotFoundException for %s', async (_name, path, reported) => {
    const answer = await invoke(path, '{}', signedFor('ap-east-1'));

    expect(answer.status).toBe(404);
    expect(answer.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(JSON.parse(answer.text)).toEqual({
      Type: 'User',
      message: `Function not found: arn:aws:lambda:ap-east-1:000000000000:function:${reported}`,
    });
  });

  it('answers InvalidRequestContentException for a body that is not JSON', async () => {
    const answer = await invoke(invocations('get-token'), '{"component":');

    expect(answer.status).toBe(400);
    expect(answer.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
    expect(JSON.parse(answer.text)).toMatchObject({
      Type: 'User',
      message: expect.stringMatching(/^Could not parse request body into json/),
    });
  });

  it('answers 204 to a DryRun and 202 to an Event invocation', async () => {
    const dryRun = await invoke(invocations('get-token'), '{"component":true}', {
      'x-amz-invocation-type': 'DryRun',
    });
    const event = await invoke(invocations('get-token'), '{"component":true}', {
      'x-amz-invocation-type': 'Event',
    });
    const unknown = await invoke(invocations('get-token'), '{}', {
      'x-amz-invocation-type': 'Sometimes',
    });

    expect([dryRun.status, dryRun.text]).toEqual([204, '']);
    expect([event.status, event.text]).toEqual([202, '']);
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('x-amzn-errortype')).toBe('InvalidParameterValueException');
  });

  it('keeps POST /local/token', async () => {
    const answer = await h.post('/local/token', { component: true });

    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ accessToken: expect.any(String) });
  });

  describe('when the handler throws', () => {
    let service: LocalService;
    beforeAll(async () => {
      service = await startLocalService(h.deps, {
        routes: {
          [LAMBDA_INVOKE_ROUTE]: lambdaInvokeApi(
            {
              'get-token': async () => {
                throw new RangeError('out of range');
              },
            },
            (name) => invocationContext(name, 10_000)
          ),
        },
      });
    });
    afterAll(() => service?.close());

    it('answers 200 with X-Amz-Function-Error: Unhandled and the runtime error JSON', async () => {
      const answer = await invoke(invocations('get-token'), '{}', {}, service.url);

      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-amz-function-error')).toBe('Unhandled');
      expect(answer.headers.get('x-amz-executed-version')).toBe('$LATEST');
      expect(JSON.parse(answer.text)).toEqual({
        errorType: 'RangeError',
        errorMessage: 'out of range',
        trace: expect.arrayContaining(['RangeError: out of range']),
      });
    });
  });
});
