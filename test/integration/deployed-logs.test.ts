import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { emitWarningIfUnsupportedVersion, state } from '@aws-sdk/core/client';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { HttpResult } from '../../functions/lib/http';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo';
import { startLocalService } from '../../local/local-service';
import { startWechatSimulator, type WechatSimulator } from '../../local/simulator';
import { walkAuthorization } from '../support/browser';
import { captureOutput, logEntries, parseOutput } from '../support/capture-output';
import { SECRET } from '../support/harness';
import { AUTHORIZER_APPID, COMPONENT_APPID, OTHER_AUTHORIZER_APPID } from '../support/test-ids';

vi.hoisted(() => {
  // The level and settings the stack deploys with (infra/constructs/service-function.ts).
  process.env.LOG_LEVEL = 'INFO';
  delete process.env.POWERTOOLS_LOG_LEVEL;
  delete process.env.POWERTOOLS_DEV;
  process.env.POWERTOOLS_SERVICE_NAME = 'wechat-token-service';
  process.env.POWERTOOLS_METRICS_NAMESPACE = 'WeChatTokenService';
  // Lambda's JSON log format and advanced logging controls, as the stack sets them: Lambda passes both to
  // the function's environment, and Powertools follows AWS_LAMBDA_LOG_LEVEL.
  process.env.AWS_LAMBDA_LOG_FORMAT = 'JSON';
  process.env.AWS_LAMBDA_LOG_LEVEL = 'INFO';
  // An operator switching event logging on must not make the functions log their events.
  process.env.POWERTOOLS_LOGGER_LOG_EVENT = 'true';
  // Lambda's Node 24 never prints the SDK's Node-version warning (checked below); this Node 20 would.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
});

type Handler = (event: unknown, context: Context) => Promise<unknown>;
interface Deployed {
  authEvent: Handler;
  authorizePage: Handler;
  authorizeCallback: Handler;
  getToken: Handler;
  refresh: Handler;
}

/** A Lambda context as the runtime passes it, with a fresh request id. */
function lambdaContext(functionName: string): Context {
  const deadline = Date.now() + 10_000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:ap-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/11/25/[$LATEST]test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
}

/** Secrets Manager's GetSecretValue on loopback, answering the two secrets the stack creates. */
async function startSecretsManager(): Promise<{ server: Server; url: string }> {
  const secrets: Record<string, object> = {
    'component-secret': { componentAppSecret: SECRET.componentAppSecret },
    'message-secret': { token: SECRET.token, encodingAesKey: SECRET.encodingAesKey },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        SecretId: string;
      };
      const secret = secrets[SecretId];
      res.writeHead(secret ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(
        JSON.stringify(
          secret
            ? { ARN: SecretId, Name: SecretId, SecretString: JSON.stringify(secret) }
            : { __type: 'ResourceNotFoundException', message: 'no such secret' }
        )
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('what the deployed functions write on ordinary successes', () => {
  let dynamo: LocalDynamo;
  let simulator: WechatSimulator;
  let secretsManager: Awaited<ReturnType<typeof startSecretsManager>>;
  let service: Awaited<ReturnType<typeof startLocalService>>;
  let fn: Deployed;
  const apiRequestIds: string[] = [];

  /** API Gateway in front of the deployed HTTP handlers: each request gets its own API request id. */
  const viaApi =
    (handler: Handler, functionName: string) => async (event: APIGatewayProxyEventV2) => {
      const requestId = `${randomUUID().replaceAll('-', '').slice(0, 14)}=`;
      apiRequestIds.push(requestId);
      return (await handler(
        { ...event, requestContext: { ...event.requestContext, requestId } },
        lambdaContext(functionName)
      )) as HttpResult;
    };

  beforeAll(async () => {
    dynamo = await startLocalDynamo();
    const tableName = await dynamo.createTable();
    simulator = await startWechatSimulator({
      componentAppId: COMPONENT_APPID,
      componentAppSecret: SECRET.componentAppSecret,
      token: SECRET.token,
      encodingAesKey: SECRET.encodingAesKey,
    });
    secretsManager = await startSecretsManager();
    Object.assign(process.env, {
      AWS_REGION: 'ap-east-1',
      AWS_ACCESS_KEY_ID: 'ASIATESTTESTTESTTEST',
      AWS_SECRET_ACCESS_KEY: 'test-secret-access-key',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
      AWS_MAX_ATTEMPTS: '1',
      TOKEN_TABLE_NAME: tableName,
      COMPONENT_APPID,
      COMPONENT_SECRET_ID: 'component-secret',
      MESSAGE_SECRET_ID: 'message-secret',
      WECHAT_API_BASE_URL: simulator.url,
      WECHAT_AUTHORIZE_PAGE_BASE_URL: simulator.url,
    });
    fn = {
      authEvent: (await import('../../functions/auth-event')).handler,
      authorizePage: (await import('../../functions/authorize-page')).handler,
      authorizeCallback: (await import('../../functions/authorize-callback')).handler,
      getToken: (await import('../../functions/get-token')).handler,
      refresh: (await import('../../functions/refresh')).handler,
    } as unknown as Deployed;
    const { getDeps } = await import('../../functions/lib/deps');
    service = await startLocalService(await getDeps(), {
      routes: {
        'POST /wechat/events': viaApi(fn.authEvent, 'auth-event'),
        'GET /authorize': viaApi(fn.authorizePage, 'authorize-page'),
        'GET /authorize/callback': viaApi(fn.authorizeCallback, 'authorize-callback'),
      },
    });
    simulator.setEventUrl(`${service.url}/wechat/events`);
  });

  afterAll(async () => {
    await service?.close();
    await simulator?.close();
    secretsManager?.server.close();
    await dynamo?.close();
  });

  const getToken = (payload: object) => fn.getToken(payload, lambdaContext('get-token'));
  const refresh = () => fn.refresh({}, lambdaContext('refresh'));

  it('writes only structured JSON: log entries and EMF metric records, never plain text', async () => {
    const output = await captureOutput(async () => {
      await simulator.pushTicket();
      await refresh();
      await walkAuthorization(service.url, { authorizerAppId: AUTHORIZER_APPID });
      await simulator.flushPushes();
      await getToken({ authorizerAppId: AUTHORIZER_APPID });
      await getToken({ component: true });
      await getToken({ authorizerAppId: 'wxnotauthorized0001' });
      await getToken({ authorizerAppId: 'null' });
      await fetch(`${service.url}/authorize/callback?auth_code=forged`);
    });
    const lines = parseOutput(output);
    expect(lines.filter((line) => line.kind === 'text')).toEqual([]);
    expect(lines.some((line) => line.kind === 'log')).toBe(true);
    expect(lines.some((line) => line.kind === 'metric')).toBe(true);
  });

  it('writes nothing at all for token reads and the authorization page', async () => {
    const reads = await captureOutput(async () => {
      for (let i = 0; i < 20; i++) {
        expect(await getToken({ authorizerAppId: AUTHORIZER_APPID })).toHaveProperty('accessToken');
        expect(await getToken({ component: true })).toHaveProperty('accessToken');
      }
    });
    const page = await captureOutput(async () => {
      expect((await fetch(`${service.url}/authorize`)).status).toBe(200);
    });

    expect(parseOutput(reads)).toEqual([]);
    expect(parseOutput(page)).toEqual([]);
  });

  it('writes the TicketReceived metric record for a ticket push, and no warning or error', async () => {
    const push = await captureOutput(async () => {
      expect((await simulator.pushTicket()).body).toBe('success');
    });
    const lines = parseOutput(push);

    expect(
      lines.flatMap((line) => (line.kind === 'metric' ? [line.entry.TicketReceived] : []))
    ).toEqual([1]);
    expect(logEntries(push)).toEqual([]);
  });

  it('writes one line per completed authorization, whether the push or the redirect exchanged it', async () => {
    const output = await captureOutput(async () => {
      await walkAuthorization(service.url, { authorizerAppId: OTHER_AUTHORIZER_APPID });
      await simulator.flushPushes();
    });
    const entries = logEntries(output);

    expect(entries).toEqual([
      expect.objectContaining({
        level: 'INFO',
        message: expect.stringMatching(/^authorization .* and stored$/),
        authorizerAppId: OTHER_AUTHORIZER_APPID,
      }),
    ]);
  });

  it('writes one summary line per scheduled refresh run', async () => {
    const output = await captureOutput(async () => {
      await refresh();
    });
    const entries = logEntries(output);
    expect(entries.map((e) => e.message)).toEqual(['scheduled refresh finished']);
    expect(entries[0]).toMatchObject({
      level: 'INFO',
      function_name: 'refresh',
      ticketUsable: true,
      ticketAgeSeconds: expect.any(Number),
    });
  });

  it('puts the API request id and the Lambda request id on every line of an HTTP function', async () => {
    const before = apiRequestIds.length;
    process.env._X_AMZN_TRACE_ID = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1';
    const output = await captureOutput(async () => {
      await fetch(`${service.url}/authorize/callback?auth_code=forged`);
      await fetch(`${service.url}/authorize?auth_type=99`);
      await fetch(`${service.url}/wechat/events?timestamp=1&nonce=1`, { method: 'POST' });
    }).finally(() => {
      delete process.env._X_AMZN_TRACE_ID;
    });
    const entries = logEntries(output);
    const ids = apiRequestIds.slice(before);

    expect(entries.map((e) => [e.message, e.correlation_id])).toEqual(
      ids.map((id) => ['request rejected', id])
    );
    for (const entry of entries) {
      expect(entry.function_request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(entry.xray_trace_id).toBe('1-5759e988-bd862e3fe1be46a994272793');
    }
    expect(new Set(entries.map((e) => e.function_request_id)).size).toBe(entries.length);
  });

  it('keeps no correlation id from one invocation to the next, and get-token never takes one', async () => {
    const output = await captureOutput(async () => {
      await fetch(`${service.url}/authorize?auth_type=99`);
      await getToken({
        authorizerAppId: 'null',
        requestContext: { requestId: 'chosen-by-caller' },
      });
      await getToken({ authorizerAppId: 'null' });
    });
    const refused = logEntries(output).filter((e) => e.function_name === 'get-token');

    expect(refused).toHaveLength(2);
    for (const entry of refused) expect(entry).not.toHaveProperty('correlation_id');
    expect(output).not.toContain('chosen-by-caller');
  });

  it('never logs an invocation event, although POWERTOOLS_LOGGER_LOG_EVENT is true', async () => {
    const current = (await getToken({ authorizerAppId: AUTHORIZER_APPID })) as {
      accessToken: string;
    };
    const output = await captureOutput(async () => {
      await getToken({ authorizerAppId: AUTHORIZER_APPID, invalidToken: current.accessToken });
    });

    expect(process.env.POWERTOOLS_LOGGER_LOG_EVENT).toBe('true');
    expect(output).not.toContain(current.accessToken);
    expect(output).not.toContain('invalidToken');
  });

  it('leaves the AWS SDK Node-version warning to Node below 22; Lambda runs the Node the stack names', () => {
    const source = readFileSync(
      new URL('../../infra/constructs/service-function.ts', import.meta.url),
      'utf8'
    );
    const runtime = Number(/Runtime\.NODEJS_(\d+)_X/.exec(source)?.[1]);
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const disabled = process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    delete process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    try {
      state.warningEmitted = false;
      emitWarningIfUnsupportedVersion(`v${runtime}.11.0`);
      expect(warn).not.toHaveBeenCalled();
      state.warningEmitted = false;
      emitWarningIfUnsupportedVersion('v20.20.2');
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('NodeVersionSupportWarning'));
    } finally {
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = disabled;
    }
    expect(runtime).toBeGreaterThanOrEqual(22);
  });
});
