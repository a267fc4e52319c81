import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { createTokenClient } from '../client/src/index';
import { startLocalService } from '../local/local-service';
import { startDynaliteProcess } from './dynamo';
import { benchDeps, seedAuthorizer } from './fixture';
import { alternate, type Check, round, type Summary, summarize } from './stats';

const AUTHORIZER = 'wxbenchcaller000001';
/** A cached token must be served at least this many times faster than an invoke (issue 12). */
const MIN_SPEEDUP = 100;

export interface CallerCacheResult {
  iterations: number;
  warmup: number;
  block: number;
  /** `getAuthorizerToken` of the client package, its cache warm. */
  cached: Summary;
  /** One `InvokeCommand` per call, as a caller without a cache does. */
  invokePerCall: Summary;
  /** invokePerCall / cached, at the median and p99. */
  speedup: { median: number; p99: number };
  /** Invokes that reached the sandbox during the measured calls of each variant. */
  invokes: { cached: number; invokePerCall: number };
  /** Invokes the cache saved per measured call (1 = every call). */
  invokesSavedPerCall: number;
  checks: Check[];
}

/**
 * A caller's read path, end to end: the client package's cached `getAuthorizerToken` against an invoke per
 * call, both through a real `LambdaClient` and Lambda's Invoke API in front of the real get-token handler
 * (the sandbox's local service) on dynalite in its own process.
 */
export async function benchCallerCache(
  options: { iterations?: number; warmup?: number; block?: number } = {}
): Promise<CallerCacheResult> {
  const iterations = options.iterations ?? 2000;
  const warmup = options.warmup ?? 200;
  const block = options.block ?? 10;
  const dynamo = await startDynaliteProcess();
  try {
    const tableName = await dynamo.createTable('bench-caller-cache');
    const { accessToken } = await seedAuthorizer(dynamo.doc, tableName, AUTHORIZER);
    const deps = benchDeps({ tableName, dynamoDbEndpoint: dynamo.endpoint, dynamo: dynamo.doc });
    const service = await startLocalService(deps);
    let invokes = 0;
    service.server.on('request', (request) => {
      if (request.url?.includes('/invocations')) invokes += 1;
    });
    const lambda = new LambdaClient({
      endpoint: service.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    });
    try {
      const tokens = createTokenClient({ functionName: 'get-token', lambda });
      const counted = { cached: 0, invokePerCall: 0 };
      let measuring = false;
      let wrong = 0;
      const payload = JSON.stringify({ authorizerAppId: AUTHORIZER });
      const cached = async () => {
        const before = invokes;
        if ((await tokens.getAuthorizerToken(AUTHORIZER)) !== accessToken) wrong += 1;
        if (measuring) counted.cached += invokes - before;
      };
      const invokePerCall = async () => {
        const before = invokes;
        const out = await lambda.send(
          new InvokeCommand({ FunctionName: 'get-token', Payload: payload })
        );
        const answer = JSON.parse(Buffer.from(out.Payload ?? []).toString('utf8'));
        if (out.FunctionError || answer.accessToken !== accessToken) wrong += 1;
        if (measuring) counted.invokePerCall += invokes - before;
      };
      for (let i = 0; i < warmup; i++) {
        await cached();
        await invokePerCall();
      }
      measuring = true;
      const samples = await alternate({
        a: cached,
        b: invokePerCall,
        iterations,
        warmup: 0,
        block,
      });
      if (wrong > 0) throw new Error(`caller-cache bench: ${wrong} calls got no valid token`);

      const c = summarize(samples.a);
      const u = summarize(samples.b);
      const speedup = { median: round(u.median / c.median, 0), p99: round(u.p99 / c.p99, 0) };
      const invokesSavedPerCall = round((counted.invokePerCall - counted.cached) / iterations);
      return {
        iterations,
        warmup,
        block,
        cached: c,
        invokePerCall: u,
        speedup,
        invokes: counted,
        invokesSavedPerCall,
        checks: [
          {
            benchmark: 'caller-cache',
            metric: 'median invoke-per-call / cached getAuthorizerToken',
            value: speedup.median,
            target: `≥ ${MIN_SPEEDUP}`,
            ok: speedup.median >= MIN_SPEEDUP,
          },
          {
            benchmark: 'caller-cache',
            metric: `invokes for ${iterations} cached calls (token valid throughout)`,
            value: counted.cached,
            target: '0',
            ok: counted.cached === 0,
            note: `invoke-per-call made ${counted.invokePerCall}`,
          },
        ],
      };
    } finally {
      lambda.destroy();
      await service.close();
    }
  } finally {
    await dynamo.close();
  }
}
