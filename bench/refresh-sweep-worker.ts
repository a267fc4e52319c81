/**
 * One scheduled refresh run in its own process, the way the refresh Lambda runs it: `makeHandler` from
 * functions/refresh.ts with `createDeps` on the given table and WeChat. Started by refresh-sweep.ts; gets a
 * `SweepJob` over IPC and answers a `SweepRun`. Its own process so that its peak memory is the sweep's
 * (dynalite and the WeChat simulator live elsewhere).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { makeHandler } from '../functions/refresh';
import type { RefreshSummary } from '../shared/jobs/scheduled-refresh';
import { benchDeps, countingDocumentClient, countingLog, type DynamoCounts } from './fixture';
import { now } from './stats';

export interface SweepJob {
  endpoint: string;
  tableName: string;
  wechatApiBaseUrl: string;
  /** Added to the real clock: moves the service's "now" so a chosen set of authorizers is due. */
  clockOffsetMs: number;
  /** The Lambda timeout: the handler's `getRemainingTimeInMillis` counts down from it. */
  timeoutMs: number;
}

export interface SweepRun {
  wallMs: number;
  /** CPU time of this process during the run (ms). */
  cpuMs: number;
  /** Most WeChat requests this process had in flight at once (the sweep's concurrency bound). */
  wechatPeakInFlight: number;
  summary: RefreshSummary;
  dynamo: DynamoCounts;
  memory: {
    rssBefore: number;
    peakRss: number;
    heapBefore: number;
    peakHeapUsed: number;
    /** Heap still used after the run and a full GC: what the run left behind (a leak would grow it). */
    heapAfterGc: number;
  };
  errors: unknown[];
}

async function run(job: SweepJob): Promise<SweepRun> {
  const { doc, counts } = countingDocumentClient(
    new DynamoDBClient({
      endpoint: job.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    })
  );
  const log = countingLog();
  let inFlight = 0;
  let wechatPeakInFlight = 0;
  const countingFetch: typeof fetch = async (...args) => {
    wechatPeakInFlight = Math.max(wechatPeakInFlight, ++inFlight);
    try {
      return await fetch(...args);
    } finally {
      inFlight -= 1;
    }
  };
  const deps = benchDeps({
    tableName: job.tableName,
    dynamoDbEndpoint: job.endpoint,
    wechatApiBaseUrl: job.wechatApiBaseUrl,
    dynamo: doc,
    fetch: countingFetch,
    clock: () => Date.now() + job.clockOffsetMs,
    log,
  });
  const handler = makeHandler(() => Promise.resolve(deps));

  globalThis.gc?.();
  const before = process.memoryUsage();
  const memory = {
    rssBefore: before.rss,
    peakRss: before.rss,
    heapBefore: before.heapUsed,
    peakHeapUsed: before.heapUsed,
    heapAfterGc: 0,
  };
  const sample = () => {
    const m = process.memoryUsage();
    memory.peakRss = Math.max(memory.peakRss, m.rss);
    memory.peakHeapUsed = Math.max(memory.peakHeapUsed, m.heapUsed);
  };
  const sampler = setInterval(sample, 50);
  const started = now();
  const cpu = process.cpuUsage();
  const context = {
    functionName: 'bench-refresh',
    awsRequestId: 'bench',
    getRemainingTimeInMillis: () => job.timeoutMs - (now() - started),
  } as unknown as Context;
  const summary = (await handler({}, context)) as RefreshSummary;
  const wallMs = now() - started;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  clearInterval(sampler);
  sample();
  globalThis.gc?.();
  memory.heapAfterGc = process.memoryUsage().heapUsed;
  return { wallMs, cpuMs, wechatPeakInFlight, summary, dynamo: counts, memory, errors: log.errors };
}

process.once('message', (job) => {
  run(job as SweepJob).then(
    (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
    (error: unknown) =>
      process.send?.({ ok: false, error: (error as Error).stack ?? String(error) }, () =>
        process.exit(1)
      )
  );
});
