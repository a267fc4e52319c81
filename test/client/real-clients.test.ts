import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  postJson,
  ROOT,
  type SandboxProcess,
  spawnSandbox,
} from '../e2e/sandbox-process';
import { walkAuthorization } from '../support/browser';
import { AUTHORIZER_APPID } from '../support/test-ids';

/**
 * Unchanged AWS clients against `npm start` (a child process, as a user runs it), with only an endpoint
 * override and made-up credentials: the AWS SDK for JavaScript v3 and the client package in plain Node,
 * boto3 (running the Python snippet of docs/callers.md as it stands), and the AWS CLI. Python's boto3 and the CLI are
 * found on PATH; where one is missing its test is skipped and this file prints why.
 */

const run = promisify(execFile);
const READY = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m;

function available(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    }).trim();
  } catch {
    return undefined;
  }
}
const boto3 = available('python3', ['-c', 'import boto3; print(boto3.__version__)']);
const awsCli = available('aws', ['--version']);
for (const [missing, what] of [
  [!boto3, 'python3 with boto3 (pip install boto3)'],
  [!awsCli, 'AWS CLI (pip install awscli)'],
] as const) {
  if (missing)
    console.warn(`real-clients.test.ts: SKIPPING the ${what} test: not found on this machine`);
}

let sandbox: SandboxProcess;
let url: string;
let workDir: string;
let expected: { merchant: string; component: string };
let simulatorUrl: string;

/** What an AWS client reads from the environment: the sandbox as the Lambda endpoint, fake credentials. */
const awsEnv = () => ({
  PATH: process.env.PATH ?? '',
  HOME: workDir,
  AWS_ENDPOINT_URL_LAMBDA: url,
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'sandbox',
  AWS_SECRET_ACCESS_KEY: 'sandbox',
  AWS_CONFIG_FILE: join(workDir, 'no-config'),
  AWS_SHARED_CREDENTIALS_FILE: join(workDir, 'no-credentials'),
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'real-clients-'));
  sandbox = spawnSandbox({ PORT: String(await freePort()), REFRESH_INTERVAL_MS: '0' });
  url = (await sandbox.waitFor(READY, 30_000))[1] as string;
  simulatorUrl = (
    await sandbox.waitFor(/WeChat simulator +(http:\/\/127\.0\.0\.1:\d+)/)
  )[1] as string;
  const walk = await walkAuthorization(url, { authorizerAppId: AUTHORIZER_APPID });
  expect(walk.callback.status).toBe(200);
  const merchant = await postJson(`${url}/local/token`, { authorizerAppId: AUTHORIZER_APPID });
  const component = await postJson(`${url}/local/token`, { component: true });
  expected = {
    merchant: merchant.json.accessToken as string,
    component: component.json.accessToken as string,
  };
  expect(expected.merchant).toEqual(expect.any(String));
  expect(expected.component).toEqual(expect.any(String));
});
afterAll(async () => {
  sandbox?.kill();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('the AWS SDK for JavaScript v3', () => {
  const script = `
    import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
    import { createTokenClient } from '@wechat-token-service/client';
    const [endpoint, merchant] = process.argv.slice(1);
    const lambda = new LambdaClient({
      endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
    });
    const raw = await lambda.send(new InvokeCommand({
      FunctionName: 'get-token',
      Payload: JSON.stringify({ authorizerAppId: merchant }),
    }));
    const missing = await lambda.send(new InvokeCommand({ FunctionName: 'no-such-function' }))
      .catch((error) => error.name);
    const tokens = createTokenClient({
      functionName: 'get-token',
      callWeChatFunctionName: 'call-wechat',
    });
    const raw2 = await lambda.send(new InvokeCommand({
      FunctionName: 'call-wechat',
      Payload: JSON.stringify({
        authorizerAppId: merchant,
        path: '/cgi-bin/openapi/quota/get',
        body: { cgi_path: '/cgi-bin/message/custom/send' },
      }),
    }));
    const code = await tokens.wechat(merchant).post('/wxa/getwxacodeunlimit', { scene: 'a1' });
    const notFound = await tokens.getAuthorizerToken('wxc11e0t0unknown0001').catch((error) => error.code);
    console.log(JSON.stringify({
      status: raw.StatusCode,
      version: raw.ExecutedVersion,
      answer: JSON.parse(Buffer.from(raw.Payload).toString()),
      missing,
      viaPackage: await tokens.getAuthorizerToken(merchant),
      component: await tokens.getComponentToken(),
      notFound,
      quota: JSON.parse(Buffer.from(raw2.Payload).toString()),
      code: { status: code.status, contentType: code.contentType, jpeg: [...code.bytes.slice(0, 2)] },
    }));
  `;

  it('fetches tokens with new LambdaClient({ endpoint }) and through the built client package', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', script, url, AUTHORIZER_APPID],
      { cwd: ROOT, env: awsEnv() }
    );

    const result = JSON.parse(stdout);
    expect(result).toEqual({
      status: 200,
      version: '$LATEST',
      answer: {
        appId: AUTHORIZER_APPID,
        accessToken: expected.merchant,
        expiresAt: expect.any(String),
      },
      missing: 'ResourceNotFoundException',
      viaPackage: expected.merchant,
      component: expected.component,
      notFound: 'authorizer_not_found',
      quota: {
        status: 200,
        contentType: expect.stringMatching(/^application\/json/),
        body: { errcode: 0, errmsg: 'ok', quota: expect.any(Object) },
      },
      code: { status: 200, contentType: 'image/jpeg', jpeg: [0xff, 0xd8] },
    });
  });

  it('cannot call WeChat directly from the caller’s address (61004), only through call-wechat', async () => {
    const direct = await fetch(
      `${simulatorUrl}/cgi-bin/openapi/quota/get?access_token=${encodeURIComponent(expected.merchant)}`,
      { method: 'POST', body: JSON.stringify({ cgi_path: '/cgi-bin/message/custom/send' }) }
    );
    expect(await direct.json()).toMatchObject({ errcode: 61004 });
  });
});

describe('boto3', () => {
  it.skipIf(!boto3)(
    'runs the callers guide’s snippet: token, cache, one retry on 40001, a dead endpoint',
    async () => {
      const callers = await readFile(join(ROOT, 'docs', 'callers.md'), 'utf8');
      const snippet = /```python\n([\s\S]*?)```/.exec(callers)?.[1];
      expect(snippet, 'docs/callers.md has a Python snippet').toBeDefined();
      const driver = `
import sys
GET_TOKEN_FUNCTION = "get-token"
invokes = []
_invoke = lambda_client.invoke
lambda_client.invoke = lambda **kw: invokes.append(json.loads(kw["Payload"])) or _invoke(**kw)
merchant = sys.argv[1]
first = get_token({"authorizerAppId": merchant})
cached = get_token({"authorizerAppId": merchant})
seen = []
def wechat(token):
    seen.append(token)
    return {"errcode": 40001} if len(seen) == 1 else {"errcode": 0}
retried = with_authorizer_token(merchant, wechat)
try:
    get_token({"authorizerAppId": "wxc11e0t0unknown0001"})
    code = None
except TokenServiceError as error:
    code = error.code
explicit = boto3.client("lambda", endpoint_url=sys.argv[2], region_name="ap-east-1")
import socket
from botocore.config import Config
def failed_on(endpoint, request):
    global lambda_client
    lambda_client = boto3.client("lambda", endpoint_url=endpoint, config=Config(
        retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=0.5))
    try:
        get_token(request)
        return None
    except TokenServiceError as error:
        return [error.code, str(error)]
    finally:
        lambda_client = explicit
closed = socket.socket()
closed.bind(("127.0.0.1", 0))
dead_port = closed.getsockname()[1]
closed.close()
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen()
dead = failed_on(f"http://127.0.0.1:{dead_port}", {"component": True})
hung = failed_on(f"http://127.0.0.1:{silent.getsockname()[1]}", {"component": True})
silent.close()
raw = explicit.invoke(FunctionName="get-token", Payload=b'{"component": true}')
relayed = json.loads(explicit.invoke(FunctionName="call-wechat", Payload=json.dumps({
    "authorizerAppId": merchant,
    "path": "/cgi-bin/openapi/quota/get",
    "body": {"cgi_path": "/cgi-bin/message/custom/send"},
}))["Payload"].read())
print(json.dumps({
    "first": first, "cached": cached, "retried": retried, "seen": seen[0] == first and len(seen),
    "reported": [i.get("invalidToken") == first for i in invokes], "code": code,
    "component": json.loads(raw["Payload"].read())["accessToken"],
    "relayed": [relayed["status"], relayed["body"]["errcode"], "quota" in relayed["body"]],
    "dead": dead, "hung": hung,
}))
`;
      const file = join(workDir, 'get_token.py');
      await writeFile(file, `${snippet}\n${driver}`);

      const { stdout } = await run('python3', [file, AUTHORIZER_APPID, url], { env: awsEnv() });

      const result = JSON.parse(stdout);
      expect(result).toEqual({
        first: expected.merchant,
        cached: expected.merchant,
        retried: { errcode: 0 },
        seen: 2,
        reported: [false, true, false],
        code: 'authorizer_not_found',
        component: expected.component,
        relayed: [200, 0, true],
        dead: [
          'endpoint_unreachable',
          expect.stringMatching(
            /^endpoint_unreachable: the Lambda endpoint is unreachable \(.+\)$/
          ),
        ],
        hung: ['timeout', 'timeout: get-token did not answer in time'],
      });
    }
  );
});

describe('the AWS CLI', () => {
  const cliArgs = (payload: string, outFile: string, functionName = 'get-token') => [
    'lambda',
    'invoke',
    '--function-name',
    functionName,
    '--endpoint-url',
    url,
    '--payload',
    payload,
    ...(awsCli?.startsWith('aws-cli/2') ? ['--cli-binary-format', 'raw-in-base64-out'] : []),
    outFile,
  ];

  it.skipIf(!awsCli)('aws lambda invoke --endpoint-url fetches a token', async () => {
    const outFile = join(workDir, 'out.json');

    const { stdout } = await run(
      'aws',
      cliArgs(JSON.stringify({ authorizerAppId: AUTHORIZER_APPID }), outFile),
      {
        env: awsEnv(),
      }
    );

    expect(JSON.parse(stdout)).toEqual({ StatusCode: 200, ExecutedVersion: '$LATEST' });
    expect(JSON.parse(await readFile(outFile, 'utf8'))).toEqual({
      appId: AUTHORIZER_APPID,
      accessToken: expected.merchant,
      expiresAt: expect.any(String),
    });
  });

  it.skipIf(!awsCli)(
    'aws lambda invoke --function-name call-wechat makes a WeChat call',
    async () => {
      const outFile = join(workDir, 'relayed.json');
      const payload = JSON.stringify({
        authorizerAppId: AUTHORIZER_APPID,
        path: '/cgi-bin/openapi/quota/get',
        body: { cgi_path: '/cgi-bin/message/custom/send' },
      });

      const { stdout } = await run('aws', cliArgs(payload, outFile, 'call-wechat'), {
        env: awsEnv(),
      });

      expect(JSON.parse(stdout)).toEqual({ StatusCode: 200, ExecutedVersion: '$LATEST' });
      expect(JSON.parse(await readFile(outFile, 'utf8'))).toMatchObject({
        status: 200,
        body: { errcode: 0, quota: expect.any(Object) },
      });
    }
  );

  it.skipIf(!awsCli)('reports ResourceNotFoundException for another function', async () => {
    const failed = await run('aws', cliArgs('{}', join(workDir, 'none.json'), 'no-such-function'), {
      env: awsEnv(),
    }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error
    );

    expect(failed?.code).toBe(255);
    expect(failed?.stderr).toContain('ResourceNotFoundException');
  });
});
