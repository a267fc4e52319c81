import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createDeps } from '../../../../functions/lib/deps';
import { refreshJobStarter } from '../../../../functions/lib/refresh-job-starter';
import { loadConfig } from '../../../../shared/config';
import { recordingLog, recordingMetrics } from '../../../support/recorders';
import { COMPONENT_APPID } from '../../../support/test-ids';

const job = {
  job: 'release-check-reply',
  authorizerAppId: 'wx570bc396a51b8ff8',
  queryAuthCode: 'queryauthcode@@@x',
  toUser: 'ozy4qt1eDxSxzYr0aNtthMp9hpQo',
} as const;

describe('starting the release check’s job on the refresh function', () => {
  const lambda = mockClient(LambdaClient);
  beforeEach(() => lambda.reset());
  afterAll(() => lambda.restore());

  it('invokes REFRESH_FUNCTION_NAME asynchronously (Event) with the job as payload', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    await refreshJobStarter('stack-Refresh')(job);
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input?.FunctionName).toBe('stack-Refresh');
    expect(input?.InvocationType).toBe('Event');
    expect(JSON.parse(new TextDecoder().decode(input?.Payload as Uint8Array))).toEqual(job);
  });

  it('fails the intake (WeChat retries) when Lambda does not queue the job', async () => {
    lambda.on(InvokeCommand).rejects(new Error('TooManyRequestsException'));
    await expect(refreshJobStarter('stack-Refresh')(job)).rejects.toThrow();
  });

  it('is wired from REFRESH_FUNCTION_NAME; without it the job is refused as a configuration error', async () => {
    const env = { TOKEN_TABLE_NAME: 't', COMPONENT_APPID, COMPONENT_SECRET_ID: 'c' };
    const quiet = { log: recordingLog(), metrics: recordingMetrics() };
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    await createDeps(
      loadConfig({ ...env, REFRESH_FUNCTION_NAME: 'fn' }),
      quiet
    ).startReleaseCheckReply(job);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
    await expect(createDeps(loadConfig(env), quiet).startReleaseCheckReply(job)).rejects.toThrow(
      /REFRESH_FUNCTION_NAME/
    );
  });
});
