import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FunctionName,
  functionEnvironment,
  INVOCATIONS,
  lambdaEnvironment,
  type ProbeResult,
  probeBundle,
} from '../../bench/lambda-probe';
import { addTokenService } from '../../infra/token-service-app';
import { AUTHORIZER_APPID, COMPONENT_APPID } from '../support/test-ids';
import { FUNCTION_IDS, type FunctionId } from '../unit/infra/synth-stack';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));

/** The bench's name of each function it probes (`bench/lambda-probe.ts`); it does not time wechat-message. */
const ENTRY: Record<Exclude<FunctionId, 'WechatMessage'>, FunctionName> = {
  AuthEvent: 'auth-event',
  AuthorizePage: 'authorize-page',
  AuthorizeCallback: 'authorize-callback',
  Refresh: 'refresh',
  GetToken: 'get-token',
  CallWeChat: 'call-wechat',
};

const MESSAGE_PATH = `/wechat/messages/${AUTHORIZER_APPID}`;

/** A push to an authorizer's message URL without its signature parameters: a 400 after loading it all. */
const WECHAT_MESSAGE_INVOCATIONS = [
  {
    what: 'a push without its signature parameters',
    event: {
      version: '2.0',
      routeKey: 'POST /wechat/messages/{appid}',
      rawPath: MESSAGE_PATH,
      rawQueryString: '',
      headers: { host: 'auth.example.com', 'content-type': 'text/xml', 'user-agent': 'probe' },
      pathParameters: { appid: AUTHORIZER_APPID },
      isBase64Encoded: false,
      requestContext: {
        accountId: '123456789012',
        apiId: 'api',
        domainName: 'auth.example.com',
        domainPrefix: 'auth',
        http: {
          method: 'POST',
          path: MESSAGE_PATH,
          protocol: 'HTTP/1.1',
          sourceIp: '203.0.113.1',
          userAgent: 'probe',
        },
        requestId: 'probe-request',
        routeKey: 'POST /wechat/messages/{appid}',
        stage: '$default',
        time: '25/Nov/2026:00:00:00 +0000',
        timeEpoch: 0,
      },
      body: '<xml><ToUserName>gh_0a0b0c0d0e0f</ToUserName><Encrypt>x</Encrypt></xml>',
    },
  },
];

/** The name Lambda would give each function's process, and the invocations it is probed with. */
const probeOf = (
  id: FunctionId
): { name: string; invocations: { event: unknown; what: string }[] } =>
  id === 'WechatMessage'
    ? { name: 'wechat-message', invocations: WECHAT_MESSAGE_INVOCATIONS }
    : { name: ENTRY[id], invocations: INVOCATIONS[ENTRY[id]] };

/** Stands in for every AWS and WeChat endpoint: records each request and fails it. */
function startRecorder(): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url} ${req.headers['x-amz-target'] ?? ''}`.trim());
    req.resume();
    res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify({ __type: 'InternalServerError', message: 'probe' }));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requests,
      })
    )
  );
}

type Answer = ProbeResult['answers'][number];
const statusOf = (a: Answer) =>
  'result' in a ? (a.result as { statusCode?: number } | undefined)?.statusCode : undefined;
const codeOf = (a: Answer) =>
  'result' in a
    ? (a.result as { error?: { code?: string } } | undefined)?.error?.code
    : a.thrown.code;

describe('the synthesized Lambda assets run with nothing but what Lambda provides', () => {
  let outdir: string;
  let taskRoot: string;
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  const results = new Map<FunctionId, ProbeResult>();
  const sawRequests = new Map<FunctionId, string[]>();
  const assetFiles = new Map<FunctionId, string[]>();
  const loggingConfigs = new Map<
    FunctionId,
    { LogFormat?: string; ApplicationLogLevel?: string }
  >();

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'infra-assets-'));
    // Without `aws:cdk:bundling-stacks`, CDK bundles every stack: real esbuild, as `cdk deploy` runs it.
    const app = new App({
      outdir,
      context: { ...cdkJson.context, componentAppId: COMPONENT_APPID },
    });
    const stack = addTokenService(app);
    app.synth();
    const template = JSON.parse(
      readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8')
    );
    const functions = Object.entries(
      template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>
    ).filter(([, r]) => r.Type === 'AWS::Lambda::Function');

    recorder = await startRecorder();
    taskRoot = mkdtempSync(join(tmpdir(), 'lambda-task-'));
    for (const id of FUNCTION_IDS) {
      const [, fn] = functions.find(([logicalId]) =>
        new RegExp(`^${id}[0-9A-F]{8}$`).test(logicalId)
      )!;
      const { S3Key } = fn.Properties.Code as { S3Key: string };
      // A fresh copy of the asset as /var/task, outside any folder with node_modules.
      const task = join(taskRoot, id);
      cpSync(join(outdir, `asset.${S3Key.replace(/\.zip$/, '')}`), task, { recursive: true });
      assetFiles.set(id, readdirSync(task).sort());
      // The function's own environment from the template; CloudFormation references become plausible values.
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> })
        .Variables;
      const plausible = functionEnvironment({ EGRESS_IP: '203.0.113.10' });
      const own = Object.fromEntries(
        Object.entries(variables).map(([name, value]) => [
          name,
          typeof value === 'string' ? value : (plausible[name] ?? 'x'),
        ])
      );
      // What Lambda adds for the function's logging config (JSON format, application log level).
      const logging = fn.Properties.LoggingConfig as {
        LogFormat?: string;
        ApplicationLogLevel?: string;
      };
      loggingConfigs.set(id, logging);
      const advancedLogging: Record<string, string> = {
        ...(logging.LogFormat ? { AWS_LAMBDA_LOG_FORMAT: logging.LogFormat } : {}),
        ...(logging.ApplicationLogLevel
          ? { AWS_LAMBDA_LOG_LEVEL: logging.ApplicationLogLevel }
          : {}),
      };
      const before = recorder.requests.length;
      results.set(
        id,
        await probeBundle(join(task, 'index.mjs'), {
          cwd: task,
          env: {
            ...lambdaEnvironment(probeOf(id).name, recorder.url),
            ...advancedLogging,
            LAMBDA_TASK_ROOT: task,
            ...own,
          },
          events: probeOf(id).invocations.map((i) => i.event),
        })
      );
      sawRequests.set(id, recorder.requests.slice(before));
    }
  }, 180_000);

  afterAll(async () => {
    recorder?.server.close();
    for (const dir of [outdir, taskRoot]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs each copy where no node_modules can be found above it', () => {
    for (let dir = taskRoot; dir !== dirname(dir); dir = dirname(dir)) {
      expect(existsSync(join(dir, 'node_modules')), dir).toBe(false);
    }
  });

  it('ships each function as one ES module with its source map, nothing else', () => {
    for (const id of FUNCTION_IDS) {
      expect(assetFiles.get(id), id).toEqual(['index.mjs', 'index.mjs.map']);
    }
  });

  it('loads every module: the AWS SDK and every other dependency are inside the bundle', () => {
    for (const id of FUNCTION_IDS) {
      const result = results.get(id)!;
      expect(result.loadError, id).toBeUndefined();
      expect(result.stderr, id).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (module|package)/);
    }
  });

  it('answers each representative request with a 4xx or a coded error, never a crash', () => {
    for (const id of FUNCTION_IDS) {
      const answers = results.get(id)!.answers;
      expect(answers, id).toHaveLength(probeOf(id).invocations.length);
      answers.forEach((answer, i) => {
        const what = `${id}: ${probeOf(id).invocations[i]!.what}`;
        const status = statusOf(answer);
        if (status !== undefined) expect(status, what).toBeGreaterThanOrEqual(400);
        if (status !== undefined) expect(status, what).toBeLessThan(500);
        else expect(codeOf(answer), what).toMatch(/^[a-z_]+$/);
      });
    }
  });

  it('refuses bad requests before any I/O: get-token and call-wechat by their invalid_request code, HTTP routes with 400', () => {
    for (const id of ['GetToken', 'CallWeChat'] as const) {
      expect(codeOf(results.get(id)!.answers[0]!), id).toBe('invalid_request');
    }
    for (const id of [
      'AuthEvent',
      'AuthorizePage',
      'AuthorizeCallback',
      'WechatMessage',
    ] as const) {
      expect(statusOf(results.get(id)!.answers[0]!), id).toBe(400);
      expect(sawRequests.get(id), id).toEqual([]);
    }
  });

  it('writes only lines Lambda’s JSON log format keeps: JSON with a level at or above the function’s, and metrics', () => {
    // Lambda's levels in order; a line whose `level` is missing or not one of these is filed as INFO.
    // https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
    const LAMBDA_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
    let written = 0;
    for (const id of FUNCTION_IDS) {
      const config = loggingConfigs.get(id)!;
      expect(config.LogFormat, id).toBe('JSON');
      const threshold = LAMBDA_LEVELS.indexOf(config.ApplicationLogLevel!);
      expect(threshold, id).toBeGreaterThanOrEqual(0);
      const lines = results
        .get(id)!
        .stderr.split('\n')
        .filter((line) => line.trim() !== '');
      for (const line of lines) {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line);
        } catch {
          throw new Error(`${id} wrote a line that is not JSON: ${line.slice(0, 200)}`);
        }
        const level = LAMBDA_LEVELS.indexOf(String(entry.level).toUpperCase());
        const filedAs = level < 0 ? LAMBDA_LEVELS.indexOf('INFO') : level;
        // Kept by Lambda's filter: an EMF record (no level, so INFO) too, or the alarms lose their metrics.
        expect(filedAs, `${id}: ${line.slice(0, 200)}`).toBeGreaterThanOrEqual(threshold);
        if ('_aws' in entry) continue;
        expect(level, `${id} level: ${line.slice(0, 200)}`).toBeGreaterThanOrEqual(0);
        expect(String(entry.timestamp), `${id} timestamp`).toMatch(
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/
        );
        expect(entry.message, id).not.toMatch(/Advanced Logging Controls/);
        written++;
      }
    }
    expect(written).toBeGreaterThan(0);
  });

  it('reaches DynamoDB through the bundled SDK, at the endpoint the environment names', () => {
    for (const id of ['GetToken', 'CallWeChat', 'Refresh'] as const) {
      expect(
        sawRequests.get(id)!.some((r) => r.includes('DynamoDB_20120810.')),
        id
      ).toBe(true);
    }
  });
});
