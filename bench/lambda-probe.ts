/**
 * Runs a built Lambda bundle the way Lambda's Node.js runtime does, in a fresh `node` process: import the
 * module, then call `handler(event, context)` with a representative event. Shared by the cold-start
 * benchmark (which times it) and the deploy-artifact test (which checks the synthesized assets load and
 * answer with nothing but what Lambda provides).
 */
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The six Lambda entries under functions/ (infra/token-service-stack.ts deploys each one). */
export const FUNCTIONS = [
  'auth-event',
  'authorize-callback',
  'authorize-page',
  'call-wechat',
  'get-token',
  'refresh',
] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/** An API Gateway HTTP API (payload 2.0) event. */
function httpEvent(method: string, path: string, query: Record<string, string> = {}) {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: new URLSearchParams(query).toString(),
    headers: { host: 'auth.example.com', 'user-agent': 'probe' },
    queryStringParameters: Object.keys(query).length ? query : undefined,
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'auth.example.com',
      domainPrefix: 'auth',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: 'probe' },
      requestId: 'probe-request',
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: '25/Nov/2026:00:00:00 +0000',
      timeEpoch: 0,
    },
  };
}

/**
 * One representative invocation per function, each answered without WeChat: a request the handler refuses
 * (4xx or a coded error) after loading everything a real request loads, or one that reaches DynamoDB.
 */
export const INVOCATIONS: Record<FunctionName, { event: unknown; what: string }[]> = {
  'auth-event': [
    {
      what: 'a push without its signature parameters',
      event: { ...httpEvent('POST', '/wechat/events'), body: '<xml><Encrypt>x</Encrypt></xml>' },
    },
  ],
  'authorize-callback': [
    { what: 'a redirect without auth_code', event: httpEvent('GET', '/authorize/callback') },
  ],
  'authorize-page': [
    { what: 'an unknown auth_type', event: httpEvent('GET', '/authorize', { auth_type: '99' }) },
  ],
  'call-wechat': [
    {
      what: 'a path that mints credentials',
      event: { authorizerAppId: 'wx1234567890abcdef', path: '/cgi-bin/token' },
    },
    {
      what: 'a call that reads the stored token (DynamoDB)',
      event: { authorizerAppId: 'wx1234567890abcdef', path: '/cgi-bin/menu/get' },
    },
  ],
  'get-token': [
    { what: 'an unknown field', event: { authorizerAppId: 'wx1234567890abcdef', extra: 1 } },
    { what: 'a token read (DynamoDB)', event: { authorizerAppId: 'wx1234567890abcdef' } },
  ],
  refresh: [{ what: 'a scheduled run (DynamoDB)', event: {} }],
};

/**
 * What Lambda's runtime sets for every function (besides the function's own environment), with dummy
 * credentials, and every AWS and WeChat endpoint pointed at `endpoint` so nothing leaves the machine.
 */
export function lambdaEnvironment(functionName: string, endpoint: string): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    AWS_REGION: 'ap-east-1',
    AWS_DEFAULT_REGION: 'ap-east-1',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/11/25/[$LATEST]probe',
    AWS_ACCESS_KEY_ID: 'ASIAPROBEPROBEPROBE0',
    AWS_SECRET_ACCESS_KEY: 'probe-secret-access-key',
    AWS_SESSION_TOKEN: 'probe-session-token',
    _HANDLER: 'index.handler',
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
    AWS_MAX_ATTEMPTS: '1',
    WECHAT_API_BASE_URL: endpoint,
    // Lambda's Node 24 never prints it; an older Node here would.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** A function's own environment as the stack would set it, with plausible values for CloudFormation refs. */
export function functionEnvironment(
  overrides: Record<string, string> = {}
): Record<string, string> {
  return {
    COMPONENT_APPID: 'wx0c0mp0nent00001',
    TOKEN_TABLE_NAME: 'WeChatTokenService-prod-TokenTable',
    COMPONENT_SECRET_ID: 'arn:aws:secretsmanager:ap-east-1:123456789012:secret:component-AbCdEf',
    MESSAGE_SECRET_ID: 'arn:aws:secretsmanager:ap-east-1:123456789012:secret:message-AbCdEf',
    POWERTOOLS_SERVICE_NAME: 'wechat-token-service',
    POWERTOOLS_METRICS_NAMESPACE: 'WeChatTokenService',
    LOG_LEVEL: 'ERROR',
    ...overrides,
  };
}

/** Runs inside the fresh process: plain JavaScript, nothing imported but the bundle and node: modules. */
const PROBE = `
const { performance } = await import('node:perf_hooks');
const cpu = process.cpuUsage();
const started = performance.now();
let mod;
try {
  mod = await import(process.env.PROBE_BUNDLE_URL);
} catch (error) {
  process.stdout.write(JSON.stringify({ loadError: { name: error.name, code: error.code, message: String(error.message).slice(0, 300) } }));
  process.exit(0);
}
const imported = performance.now();
const importCpu = process.cpuUsage(cpu);
const answers = [];
for (const event of JSON.parse(process.env.PROBE_EVENTS)) {
  const deadline = Date.now() + 10_000;
  const context = {
    awsRequestId: 'probe-' + answers.length,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:ap-east-1:123456789012:function:' + process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: '512',
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await mod.handler(event, context);
    answers.push({ result });
  } catch (error) {
    answers.push({ thrown: { name: error?.name, code: error?.code, message: String(error?.message).slice(0, 300) } });
  }
}
const done = performance.now();
const total = process.cpuUsage(cpu);
process.stdout.write(JSON.stringify({
  importMs: imported - started,
  importCpuMs: (importCpu.user + importCpu.system) / 1000,
  firstInvokeMs: done - imported,
  totalCpuMs: (total.user + total.system) / 1000,
  sinceProcessStartMs: imported,
  answers,
}));
`;

export interface ProbeResult {
  /** Set when the module could not be imported (e.g. ERR_MODULE_NOT_FOUND). */
  loadError?: { name: string; code?: string; message: string };
  importMs: number;
  importCpuMs: number;
  /** Wall time of the invocations after the import. */
  firstInvokeMs: number;
  /** CPU time of import and invocations. */
  totalCpuMs: number;
  sinceProcessStartMs: number;
  answers: ({ result: unknown } | { thrown: { name?: string; code?: string; message: string } })[];
  /** What the process wrote to stderr and stdout besides the result (logs). */
  stderr: string;
}

/**
 * Imports `bundleFile` in a fresh `node` process with exactly `env` (nothing inherited) and `cwd`, invokes
 * its handler with each of `events` in turn, and returns the timings and answers.
 */
export async function probeBundle(
  bundleFile: string,
  options: { env: Record<string, string>; cwd: string; events: unknown[]; sourceMaps?: boolean }
): Promise<ProbeResult> {
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', PROBE], {
    cwd: options.cwd,
    env: {
      ...options.env,
      PROBE_BUNDLE_URL: pathToFileURL(bundleFile).href,
      PROBE_EVENTS: JSON.stringify(options.events),
      ...(options.sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  // Powertools writes log lines to stdout too; the probe's result is the last line.
  const lines = stdout.trimEnd().split('\n');
  const result = JSON.parse(lines.at(-1) as string) as Omit<ProbeResult, 'stderr'>;
  return { ...result, stderr: [...lines.slice(0, -1), stderr].join('\n') };
}
