import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../e2e/sandbox-process';
import { authorizeMerchant, type Harness, startHarness } from '../support/harness';
import { AUTHORIZER_APPID, COMPONENT_APPID } from '../support/test-ids';

/**
 * `wechat-token` as operators run it: the root package's bin in its own process, finding the refresh
 * function through a stack's outputs. CloudFormation is a loopback server speaking DescribeStacks (AWS
 * query protocol), the Lambda endpoint the sandbox; both are set the way any AWS SDK reads them
 * (`AWS_ENDPOINT_URL_CLOUDFORMATION`, `AWS_ENDPOINT_URL_LAMBDA`).
 */

const STACK = 'WeChatTokenService-test';
const OLD_STACK = 'WeChatTokenService-old';

let h: Harness;
let cloudFormation: Server;
let cloudFormationUrl: string;
const describedStacks: string[] = [];

function stackXml(name: string, outputs: Record<string, string>): string {
  const members = Object.entries(outputs)
    .map(([k, v]) => `<member><OutputKey>${k}</OutputKey><OutputValue>${v}</OutputValue></member>`)
    .join('');
  return `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
<DescribeStacksResult><Stacks><member><StackName>${name}</StackName>
<StackStatus>UPDATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime>
<Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult>
<ResponseMetadata><RequestId>b1n</RequestId></ResponseMetadata></DescribeStacksResponse>`;
}

beforeAll(async () => {
  h = await startHarness();
  await authorizeMerchant(h, AUTHORIZER_APPID);
  cloudFormation = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const form = new URLSearchParams(body);
      const name = form.get('StackName') ?? '';
      describedStacks.push(`${form.get('Action')} ${name}`);
      response.setHeader('content-type', 'text/xml');
      if (name === STACK || name === OLD_STACK) {
        const outputs: Record<string, string> =
          name === STACK
            ? { GetTokenFunctionName: 'get-token', RefreshFunctionName: 'refresh' }
            : { GetTokenFunctionName: 'get-token' };
        response.end(stackXml(name, outputs));
        return;
      }
      response.statusCode = 400;
      response.end(
        `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${name} does not exist</Message></Error><RequestId>b1n</RequestId></ErrorResponse>`
      );
    });
  });
  await new Promise<void>((resolve) => cloudFormation.listen(0, '127.0.0.1', resolve));
  cloudFormationUrl = `http://127.0.0.1:${(cloudFormation.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => cloudFormation?.close(resolve));
  await h?.close();
});

/** Runs `command` in the repository with only an AWS environment pointed at the loopback endpoints. */
function spawnCli(command: string, args: string[]) {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'operator',
    AWS_SECRET_ACCESS_KEY: 'operator-secret',
    AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormationUrl,
    AWS_ENDPOINT_URL_LAMBDA: h.service.url,
    NO_UPDATE_NOTIFIER: '1',
  };
  return new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile(command, args, { cwd: ROOT, env, timeout: 60_000 }, (error, out, err) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, out, err });
    });
  });
}

const bin = (...args: string[]) =>
  spawnCli(process.execPath, [join(ROOT, 'bin', 'wechat-token.js'), ...args]);

describe('the wechat-token bin', () => {
  it('runs through npx in the repository (the root package’s bin)', async () => {
    const { code, out } = await spawnCli('npx', ['wechat-token', '--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: npx wechat-token <command> \[options\]/);
  });

  it('finds the refresh function from the stack’s RefreshFunctionName output', async () => {
    const { code, out, err } = await bin('list', '--stack', STACK, '--json');
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(out).authorizers).toEqual([
      expect.objectContaining({ authorizerAppId: AUTHORIZER_APPID, status: 'active' }),
    ]);
    expect(describedStacks).toContain(`DescribeStacks ${STACK}`);
  });

  it('exits 1 naming the missing output of a stack deployed before it existed', async () => {
    const { code, out, err } = await bin('status', '--stack', OLD_STACK);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(
      `wechat-token: stack_output_missing: stack ${OLD_STACK} has no RefreshFunctionName output: deploy the current version, or pass --function\n`
    );
  });

  it('exits 1 with CloudFormation’s message for an unknown stack', async () => {
    const { code, err } = await bin('status', '--stack', 'NoSuchStack');
    expect(code).toBe(1);
    expect(err).toBe(
      'wechat-token: stack_lookup_failed: ValidationError: Stack with id NoSuchStack does not exist\n'
    );
  });

  it('exits 2 on a usage error, and 0 with the status of the platform', async () => {
    expect(await bin('show', '--stack', STACK)).toEqual({
      code: 2,
      out: '',
      err: 'wechat-token: show takes one <appid>\nrun wechat-token --help for usage\n',
    });
    const { code, out } = await bin('status', '--function', 'refresh');
    expect(code).toBe(0);
    expect(out).toContain(`platform         ${COMPONENT_APPID}`);
  });
});
