/**
 * get-token as Lambda runs it, in a process of its own: the esbuild bundle the stack deploys, its `handler`
 * export (middy with the Powertools Logger and Metrics middlewares), the deployed environment and
 * `--enable-source-maps`. Measured in alternating blocks against a bare `GetItem` of the same item, bundled
 * the same way (`bare-get-item.ts`), and strongly against eventually consistent reads. Every line the
 * process writes to stdout or stderr during the handler's calls is counted (CloudWatch bills each one).
 * Started by `benchGetToken()`; results go back over IPC.
 */
import type { Context } from 'aws-lambda';
import { alternate } from './stats';

export interface WorkerInput {
  bundleUrl: string;
  /** The bundle of `bare-get-item.ts`. */
  baselineUrl: string;
  tableName: string;
  pk: string;
  authorizerAppId: string;
  accessToken: string;
  iterations: number;
  warmup: number;
  block: number;
}

export interface WorkerOutput {
  handler: number[];
  getItem: number[];
  strong: number[];
  eventual: number[];
  /** Lines written to stdout/stderr while the handler ran, and the handler calls made meanwhile. */
  logLines: number;
  handlerCalls: number;
  /** A sample of those lines (never a token: get-token logs none). */
  sampleLines: string[];
}

const input = JSON.parse(process.env.BENCH_WORKER_INPUT as string) as WorkerInput;

let counting = false;
let logLines = 0;
const sampleLines: string[] = [];
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (counting) {
      const text = String(chunk);
      logLines += text.split('\n').filter(Boolean).length;
      if (sampleLines.length < 3) sampleLines.push(text.slice(0, 300));
    }
    return write(chunk, ...rest);
  }) as typeof stream.write;
}

const { handler } = (await import(input.bundleUrl)) as {
  handler: (event: unknown, context: Context) => Promise<{ accessToken?: string }>;
};
const { getItem } = (await import(input.baselineUrl)) as typeof import('./bare-get-item');

let requestCount = 0;
const context = (): Context =>
  ({
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: `00000000-0000-4000-8000-${String(++requestCount).padStart(12, '0')}`,
    logGroupName: `/aws/lambda/${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => 10_000,
    done() {},
    fail() {},
    succeed() {},
  }) as unknown as Context;

let wrong = 0;
let handlerCalls = 0;
const event = { authorizerAppId: input.authorizerAppId };
const viaHandler = async () => {
  counting = true;
  handlerCalls += 1;
  try {
    const answer = await handler(event, context());
    if (answer.accessToken !== input.accessToken) wrong += 1;
  } finally {
    counting = false;
  }
};
const read = (consistent: boolean) => async () => {
  const item = await getItem(input.tableName, input.pk, consistent);
  if (item?.accessToken !== input.accessToken) wrong += 1;
};

const { iterations, warmup, block } = input;
const main = await alternate({ a: viaHandler, b: read(true), iterations, warmup, block });
const consistency = await alternate({
  a: read(true),
  b: read(false),
  iterations: Math.ceil(iterations / 2),
  warmup: Math.ceil(warmup / 2),
  block,
});
if (wrong > 0) throw new Error(`deployed get-token bench: ${wrong} calls did not return the token`);
const output: WorkerOutput = {
  handler: main.a,
  getItem: main.b,
  strong: consistency.a,
  eventual: consistency.b,
  logLines,
  handlerCalls,
  sampleLines,
};
process.send?.(output, () => process.exit(0));
