import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { ReleaseCheckReplyJob } from '../../shared/messages/handle-message';

/** How long the message intake waits for Lambda to queue the job: it answers WeChat within 5 s. */
const QUEUE_TIMEOUT_MS = 1_500;

/**
 * Starts a job on the refresh function without waiting for it (`InvocationType: Event`: Lambda queues it and
 * answers 202 at once). The stack turns the refresh function's asynchronous retries off (a failed scheduled
 * run is not repeated): a release-check answer that fails is in the refresh function's log, and the check is
 * run again from WeChat's console. The SDK is imported and the client built on first use: only WeChat's
 * release check needs it.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
 */
export function refreshJobStarter(
  functionName: string,
  client?: LambdaClient
): (job: ReleaseCheckReplyJob) => Promise<void> {
  let lambda = client;
  return async (job) => {
    const sdk = await import('@aws-sdk/client-lambda');
    lambda ??= new sdk.LambdaClient({
      maxAttempts: 2,
      requestHandler: { requestTimeout: QUEUE_TIMEOUT_MS, throwOnRequestTimeout: true },
    });
    await lambda.send(
      new sdk.InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(job)),
      })
    );
  };
}
