import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BatchWriteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { startWechatSimulator, type WechatSimulator } from '../local/simulator';
import {
  DUE_INDEX_SHARDS,
  REFRESH_MARGIN_MS,
  SWEEP_CONCURRENCY,
  SWEEP_DEADLINE_RESERVE_MS,
} from '../shared/policy';
import { getComponentAccessToken } from '../shared/serving/component-token';
import { DynamoDbTokenStore } from '../shared/store/dynamodb-token-store';
import { authorizerDueKey, dueShard } from '../shared/store/table-schema';
import type { NewAuthorization } from '../shared/store/token-store';
import { type BenchDynamo, startDynaliteProcess } from './dynamo';
import { benchDeps, COMPONENT_APPID, SECRET } from './fixture';
import type { SweepJob, SweepRun } from './refresh-sweep-worker';
import { type Check, fmtInt, now, round } from './stats';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The refresh Lambda's timeout (infra/token-service-stack.ts) and memory (ServiceFunction default). */
const LAMBDA_TIMEOUT_MS = 5 * MINUTE;
const LAMBDA_MEMORY_BYTES = 512 * 2 ** 20;
const WECHAT_LATENCY_MS = 50;
const BATCH = 25;
const WRITE_PARALLELISM = 8;

interface Run {
  duePercent: number;
  /** The service clock of the run, from the seeding time T. */
  clockOffsetMs: number;
}

/**
 * Each table holds one group of authorizers per run, due 10 minutes before that run's clock, and the rest at
 * T + 3 h 20 min, never due here. Up to 100 000 authorizers:
 * - 10 % at T − 10 min: due in the first run (service clock = T);
 * - 1 % at T + 30 min: due in the second run (service clock = T + 40 min), when the first group, refreshed
 *   by the first run, sits at about T + 1 h 45 min.
 */
const RUNS: readonly Run[] = [
  { duePercent: 10, clockOffsetMs: 0 },
  { duePercent: 1, clockOffsetMs: 40 * MINUTE },
];
/**
 * At 1 000 000 authorizers only a 1 % run: 10 % would be 100 000 renewals, several minutes of this
 * machine's two shared cores (the sweep is CPU-bound here, see docs/performance.md), and 10 000 due is measured at
 * both 100 000 × 10 % and 1 000 000 × 1 %: the same due count at ten times the authorizers.
 */
const runsFor = (total: number): readonly Run[] =>
  total >= 1_000_000 ? [{ duePercent: 1, clockOffsetMs: 0 }] : RUNS;

/** DynamoDB's documented ceiling per partition, for a table and a global secondary index alike. */
const PARTITION_LIMIT = { writeUnitsPerSecond: 1000, readUnitsPerSecond: 3000 };
/**
 * Index writes per renewal, items under 1 KB: the lease claim rewrites the projected item once, the save
 * moves `refreshAt` (the sort key), a delete and a put (docs/deploy.md, "Why the `due` index projects ALL").
 */
const INDEX_WRITES_PER_RENEWAL = 3;
/** Refresh runs that can overlap: the schedule fires every 5 minutes and a run may last its 5-minute timeout. */
const OVERLAPPING_RUNS = 2;
/** The population the partition load is computed for, and a cohort of it authorized together. */
const LOAD_AUTHORIZERS = 1_000_000;
const LOAD_COHORT = 10_000;

export interface SeedTiming {
  authorizers: number;
  simulatorMs: number;
  dynamoMs: number;
  itemsPerSecond: number;
}

export interface SweepScenario {
  authorizers: number;
  duePercent: number;
  due: number;
  wallMs: number;
  /** ceil(due / concurrency) × WeChat latency: the floor bounded concurrency allows. */
  floorMs: number;
  refreshed: number;
  skipped: number;
  failed: Record<string, number>;
  truncated: boolean;
  itemsRead: number;
  dynamoRequests: Record<string, number>;
  wechatCalls: number;
  wechatCallsByApi: Record<string, number>;
  wechatPeakInFlight: number;
  /** Due items on the busiest `due` partition over the average partition (1 = perfectly even). */
  busiestPartitionFactor: number;
  /** Index write units per second this run put on its busiest `due` partition (due / wall × writes × share). */
  busiestPartitionWritesPerSecond: number;
  memory: SweepRun['memory'];
  /** CPU used during the run by the sweep process, by dynalite, and by this process (the simulator). */
  cpuMs: { sweep: number; dynalite?: number; simulator: number };
}

/** Index write units per second on one `due` partition, against DynamoDB's limit. */
export interface PartitionRate {
  renewalsPerSecond: number;
  /** The whole index: what one unsharded partition would take. */
  unshardedUnitsPerSecond: number;
  /** The busiest of the `DUE_INDEX_SHARDS` partitions (its share measured by hashing the appids). */
  busiestPartitionUnitsPerSecond: number;
  /** busiestPartitionUnitsPerSecond as a share of the limit. */
  shareOfLimit: number;
}

/** The `due` index's per-partition load at `authorizers`, computed from the shard count and the cadence. */
export interface PartitionLoad {
  authorizers: number;
  shards: number;
  renewalIntervalMinutes: number;
  indexWritesPerRenewal: number;
  limit: typeof PARTITION_LIMIT;
  /** Every authorizer renewed once per interval. */
  steady: PartitionRate & { busiestShardShare: number };
  /**
   * A cohort authorized together, due together: the sweep renews at its ceiling, `SWEEP_CONCURRENCY` per
   * run in flight for a WeChat round trip each, `OVERLAPPING_RUNS` runs at once.
   */
  burst: PartitionRate & { cohort: number; busiestShardShare: number };
  /** Read units per second of the busiest partition during the burst (a Query reads 0.5 unit per 4 KB). */
  burstReadUnitsPerSecond: number;
}

export interface RefreshSweepResult {
  wechatLatencyMs: number;
  concurrency: number;
  budgetMs: number;
  seeding: SeedTiming[];
  scenarios: SweepScenario[];
  partitionLoad: PartitionLoad;
  checks: Check[];
}

const appIdOf = (i: number) => `wx${i.toString(16).padStart(16, '0')}`;

/** The item `DynamoDbTokenStore.saveAuthorization` writes for a new authorizer (checked below). */
function authorizationItem(a: NewAuthorization, now: number): Record<string, unknown> {
  return {
    pk: `AUTHORIZER#${a.componentAppId}#${a.authorizerAppId}`,
    componentAppId: a.componentAppId,
    authorizerAppId: a.authorizerAppId,
    status: 'active',
    accessToken: a.accessToken,
    expiresAt: a.expiresAt,
    refreshToken: a.refreshToken,
    funcInfo: a.funcInfo,
    refreshAt: a.refreshAt,
    issuedAt: now,
    requestedAt: now,
    dueKey: authorizerDueKey(a.componentAppId, a.authorizerAppId),
    authorizedAt: a.authorizedAt,
    updatedAt: now,
    version: 1,
  };
}

function sameItem(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const sort = (o: Record<string, unknown>) =>
    JSON.stringify(Object.fromEntries(Object.entries(o).sort(([x], [y]) => x.localeCompare(y))));
  return sort(a) === sort(b);
}

/** Writes items `0 … count − 1`, made by `itemAt` as they are sent (a million do not fit in memory at once). */
async function batchWrite(
  dynamo: BenchDynamo,
  tableName: string,
  count: number,
  itemAt: (i: number) => object
) {
  let next = 0;
  const writer = async () => {
    while (next < count) {
      const from = next;
      next = Math.min(count, next + BATCH);
      let requests = Array.from({ length: next - from }, (_, k) => ({
        PutRequest: { Item: itemAt(from + k) },
      }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 10) throw new Error('BatchWrite kept returning UnprocessedItems');
        const out = await dynamo.doc.send(
          new BatchWriteCommand({ RequestItems: { [tableName]: requests } })
        );
        requests = (out.UnprocessedItems?.[tableName] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: WRITE_PARALLELISM }, writer));
}

/** The busiest shard's share of `appIds` (1 / `DUE_INDEX_SHARDS` if they spread perfectly evenly). */
function busiestShardShare(appIds: Iterable<string>): number {
  const perShard = new Array<number>(DUE_INDEX_SHARDS).fill(0);
  let total = 0;
  for (const appId of appIds) {
    const shard = dueShard(appId);
    perShard[shard] = (perShard[shard] ?? 0) + 1;
    total += 1;
  }
  return Math.max(...perShard) / total;
}

function* appIdRange(from: number, count: number) {
  for (let i = from; i < from + count; i++) yield appIdOf(i);
}

/**
 * Writes `total` authorizers into the table, shaped as `saveAuthorization` writes them, one group per run
 * due at that run's clock (see `RUNS`) and the rest never due here. Only the due groups are registered with
 * the simulator; the others carry refresh tokens WeChat never issued, so renewing one by mistake fails the
 * run's checks. The last one is written through the real store and compared with what this bench would have
 * written, so the shapes cannot drift.
 */
async function seed(
  dynamo: BenchDynamo,
  tableName: string,
  simulator: WechatSimulator,
  total: number,
  runs: readonly Run[],
  t: number
): Promise<SeedTiming> {
  const groups = runs.map((run) => Math.round((total * run.duePercent) / 100));
  const dueTotal = groups.reduce((a, b) => a + b, 0);
  const simStart = now();
  const refreshTokens: string[] = [];
  for (let i = 0; i < dueTotal; i++) {
    const appId = appIdOf(i);
    simulator.authorize(appId);
    refreshTokens.push(simulator.state.authorizers.get(appId)?.refreshToken as string);
  }
  const simulatorMs = now() - simStart;

  const refreshAtOf = (i: number) => {
    let end = 0;
    for (const [g, size] of groups.entries()) {
      end += size;
      if (i < end) return t + (runs[g] as Run).clockOffsetMs - 10 * MINUTE + (i % 1000);
    }
    return t + 200 * MINUTE + (i % 1000);
  };
  const authorization = (i: number): NewAuthorization => {
    const refreshAt = refreshAtOf(i);
    return {
      componentAppId: COMPONENT_APPID,
      authorizerAppId: appIdOf(i),
      accessToken: `seededaccesstoken@@@${i}`,
      expiresAt: refreshAt + 15 * MINUTE,
      refreshToken: refreshTokens[i] ?? `neverissuedrefreshtoken@@@${i}`,
      funcInfo: [1, 2, 3],
      refreshAt,
      authorizedAt: t - 24 * HOUR,
    };
  };
  const dynamoStart = now();
  await batchWrite(dynamo, tableName, total - 1, (i) => authorizationItem(authorization(i), t));
  const probe = authorization(total - 1);
  await new DynamoDbTokenStore(dynamo.doc, tableName).saveAuthorization(probe, t);
  const dynamoMs = now() - dynamoStart;
  const written = await dynamo.doc.send(
    new GetCommand({
      TableName: tableName,
      Key: { pk: `AUTHORIZER#${COMPONENT_APPID}#${probe.authorizerAppId}` },
      ConsistentRead: true,
    })
  );
  if (!written.Item || !sameItem(written.Item, authorizationItem(probe, t))) {
    throw new Error(
      `refresh-sweep bench: seeded items no longer match saveAuthorization's item: ${JSON.stringify(written.Item)}`
    );
  }
  return {
    authorizers: total,
    simulatorMs: round(simulatorMs, 1),
    dynamoMs: round(dynamoMs, 1),
    itemsPerSecond: Math.round(total / (dynamoMs / 1000)),
  };
}

/**
 * The `due` index's per-partition write rate at 1 000 000 authorizers, computed (no DynamoDB here enforces
 * partition limits): renewals per second × index writes per renewal × the busiest shard's share, the share
 * measured by hashing the appids the bench seeds.
 */
function partitionLoad(wechatLatencyMs: number): PartitionLoad {
  const intervalMs = 2 * HOUR - REFRESH_MARGIN_MS;
  const rate = (renewalsPerSecond: number, share: number): PartitionRate => {
    const unsharded = renewalsPerSecond * INDEX_WRITES_PER_RENEWAL;
    return {
      renewalsPerSecond: round(renewalsPerSecond, 1),
      unshardedUnitsPerSecond: Math.round(unsharded),
      busiestPartitionUnitsPerSecond: round(unsharded * share, 1),
      shareOfLimit: round((unsharded * share) / PARTITION_LIMIT.writeUnitsPerSecond, 3),
    };
  };
  const steadyShare = busiestShardShare(appIdRange(0, LOAD_AUTHORIZERS));
  const burstShare = busiestShardShare(appIdRange(0, LOAD_COHORT));
  const burstRenewals = (OVERLAPPING_RUNS * SWEEP_CONCURRENCY * 1000) / wechatLatencyMs;
  // Items stay under 1 KB: a page of them reads 0.5 unit per 4 KB, eventually consistent.
  const burstReadUnits = (burstRenewals * burstShare * 0.5) / 4;
  return {
    authorizers: LOAD_AUTHORIZERS,
    shards: DUE_INDEX_SHARDS,
    renewalIntervalMinutes: intervalMs / MINUTE,
    indexWritesPerRenewal: INDEX_WRITES_PER_RENEWAL,
    limit: PARTITION_LIMIT,
    steady: {
      ...rate(LOAD_AUTHORIZERS / (intervalMs / 1000), steadyShare),
      busiestShardShare: round(steadyShare, 4),
    },
    burst: {
      ...rate(burstRenewals, burstShare),
      cohort: LOAD_COHORT,
      busiestShardShare: round(burstShare, 4),
    },
    burstReadUnitsPerSecond: round(burstReadUnits, 1),
  };
}

function runWorker(job: SweepJob): Promise<SweepRun> {
  const child = fork(fileURLToPath(new URL('./refresh-sweep-worker.ts', import.meta.url)), [], {
    // BENCH_WORKER_NODE_ARGS: extra node flags for the worker, e.g. "--cpu-prof --cpu-prof-dir=bench/.tmp".
    execArgv: [
      '--import',
      'tsx',
      '--expose-gc',
      ...(process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => {
      const m = message as { ok: true; result: SweepRun } | { ok: false; error: string };
      if (m.ok) resolve(m.result);
      else reject(new Error(`refresh worker failed: ${m.error}`));
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`refresh worker exited with ${code}`));
    });
    child.send(job);
  });
}

/**
 * The scheduled sweep at 1 000 / 10 000 / 100 000 authorizers with 10 % and 1 % due, and at 1 000 000 with
 * 1 % due, each run in its own process against dynalite and the WeChat simulator (50 ms per call). Counts
 * WeChat calls at the simulator and DynamoDB items read at the worker's client; computes the `due` index's
 * per-partition write rate at 1 000 000 authorizers.
 */
export async function benchRefreshSweep(
  options: { sizes?: number[]; onProgress?: (line: string) => void } = {}
): Promise<RefreshSweepResult> {
  const sizes = options.sizes ?? [1_000, 10_000, 100_000, 1_000_000];
  const progress = options.onProgress ?? (() => {});
  const budgetMs = LAMBDA_TIMEOUT_MS - SWEEP_DEADLINE_RESERVE_MS;
  const dynamo = await startDynaliteProcess();
  const seeding: SeedTiming[] = [];
  const scenarios: SweepScenario[] = [];
  try {
    for (const total of sizes) {
      const tableName = await dynamo.createTable(`bench-sweep-${total}`);
      const simulator = await startWechatSimulator({
        componentAppId: COMPONENT_APPID,
        componentAppSecret: SECRET.componentAppSecret,
        token: SECRET.token,
        encodingAesKey: SECRET.encodingAesKey,
        latencyMs: WECHAT_LATENCY_MS,
      });
      try {
        const t = Date.now();
        const runs = runsFor(total);
        const timing = await seed(dynamo, tableName, simulator, total, runs, t);
        seeding.push(timing);
        progress(
          `  seeded ${fmtInt(total)} authorizers: simulator ${Math.round(timing.simulatorMs)} ms, ` +
            `DynamoDB ${Math.round(timing.dynamoMs)} ms (${fmtInt(timing.itemsPerSecond)} items/s)`
        );

        // A ticket and a fresh component token, as after earlier runs; the sweeps then only refresh authorizers.
        const deps = benchDeps({
          tableName,
          dynamoDbEndpoint: dynamo.endpoint,
          wechatApiBaseUrl: simulator.url,
          dynamo: dynamo.doc,
        });
        const { ticket } = await simulator.pushTicket();
        let groupStart = 0;
        for (const run of runs) {
          const serviceNow = Date.now() + run.clockOffsetMs;
          await deps.store.putTicket({
            componentAppId: COMPONENT_APPID,
            ticket,
            createTime: serviceNow,
            receivedAt: serviceNow,
          });
          if (run === runs[0]) await getComponentAccessToken(deps);
          simulator.resetCalls();

          const due = Math.round((total * run.duePercent) / 100);
          const dueShare = busiestShardShare(appIdRange(groupStart, due));
          groupStart += due;
          const dynaliteCpu = dynamo.cpuMs();
          const ownCpu = process.cpuUsage();
          const result = await runWorker({
            endpoint: dynamo.endpoint,
            tableName,
            wechatApiBaseUrl: simulator.url,
            clockOffsetMs: run.clockOffsetMs,
            timeoutMs: LAMBDA_TIMEOUT_MS,
          });
          const own = process.cpuUsage(ownCpu);
          const dynaliteAfter = dynamo.cpuMs();
          const byApi: Record<string, number> = {};
          for (const call of simulator.calls) byApi[call.api] = (byApi[call.api] ?? 0) + 1;
          const { authorizers } = result.summary;
          if (result.errors.length) {
            progress(`  errors logged by the sweep: ${JSON.stringify(result.errors.slice(0, 3))}`);
          }
          scenarios.push({
            authorizers: total,
            duePercent: run.duePercent,
            due,
            wallMs: round(result.wallMs, 1),
            floorMs: Math.ceil(due / SWEEP_CONCURRENCY) * WECHAT_LATENCY_MS,
            refreshed: authorizers.refreshed,
            skipped: authorizers.skipped,
            failed: authorizers.failed,
            truncated: authorizers.truncated,
            itemsRead: result.dynamo.itemsRead,
            dynamoRequests: result.dynamo.requests,
            wechatCalls: simulator.calls.length,
            wechatCallsByApi: byApi,
            wechatPeakInFlight: result.wechatPeakInFlight,
            busiestPartitionFactor: round(dueShare * DUE_INDEX_SHARDS, 2),
            busiestPartitionWritesPerSecond: round(
              ((due * INDEX_WRITES_PER_RENEWAL * dueShare) / result.wallMs) * 1000,
              1
            ),
            memory: result.memory,
            cpuMs: {
              sweep: Math.round(result.cpuMs),
              ...(dynaliteCpu === undefined || dynaliteAfter === undefined
                ? {}
                : { dynalite: dynaliteAfter - dynaliteCpu }),
              simulator: Math.round((own.user + own.system) / 1000),
            },
          });
          progress(
            `  ${fmtInt(total)} authorizers, ${run.duePercent} % due (${fmtInt(due)}): ` +
              `${Math.round(result.wallMs)} ms, ${fmtInt(simulator.calls.length)} WeChat calls, ` +
              `${fmtInt(result.dynamo.itemsRead)} items read`
          );
        }
      } finally {
        await simulator.close();
        await dynamo.deleteTable(tableName);
      }
    }
  } finally {
    await dynamo.close();
  }
  const load = partitionLoad(WECHAT_LATENCY_MS);
  return {
    wechatLatencyMs: WECHAT_LATENCY_MS,
    concurrency: SWEEP_CONCURRENCY,
    budgetMs,
    seeding,
    scenarios,
    partitionLoad: load,
    checks: [...sweepChecks(scenarios, budgetMs), ...loadChecks(load)],
  };
}

function loadChecks(load: PartitionLoad): Check[] {
  const limit = load.limit.writeUnitsPerSecond;
  const row = (what: string, rate: PartitionRate, target: number, note: string): Check => ({
    benchmark: 'refresh-sweep',
    metric: `${fmtInt(load.authorizers)} authorizers, ${what}: index writes/s on the busiest due partition`,
    value: rate.busiestPartitionUnitsPerSecond,
    target: `≤ ${fmtInt(limit * target)} (${target * 100} % of DynamoDB's ${fmtInt(limit)}/partition)`,
    ok: rate.busiestPartitionUnitsPerSecond <= limit * target,
    note: `${fmtInt(rate.renewalsPerSecond)} renewals/s × ${load.indexWritesPerRenewal} over ${load.shards} shards; unsharded ${fmtInt(rate.unshardedUnitsPerSecond)}/s; ${note}`,
  });
  return [
    row('steady', load.steady, 0.05, `renewed every ${load.renewalIntervalMinutes} min`),
    row(
      'burst',
      load.burst,
      0.25,
      `a cohort of ${fmtInt(load.burst.cohort)} due together, the sweep at its ceiling`
    ),
  ];
}

function sweepChecks(scenarios: SweepScenario[], budgetMs: number): Check[] {
  const checks: Check[] = [];
  const label = (s: SweepScenario) => `${fmtInt(s.authorizers)} × ${s.duePercent} %`;
  for (const s of scenarios) {
    const failed = Object.values(s.failed).reduce((a, b) => a + b, 0);
    // The day's first run also reads each watched API's quota (getApiQuota, shared/jobs/wechat-quota.ts):
    // once a day whatever the number of authorizers, so it is not counted against the due ones.
    const { getApiQuota: quotaChecks = 0, ...renewing } = s.wechatCallsByApi;
    const calls = Object.values(renewing).reduce((a, b) => a + b, 0);
    checks.push({
      benchmark: 'refresh-sweep',
      metric: `${label(s)}: WeChat calls = due (+ the daily quota check)`,
      value: `${fmtInt(calls)} / ${fmtInt(s.due)}`,
      target: '= due',
      ok: calls === s.due && s.refreshed === s.due && failed === 0 && !s.truncated,
      ...(calls === s.due && quotaChecks === 0
        ? {}
        : { note: `by API ${JSON.stringify(s.wechatCallsByApi)}; refreshed ${s.refreshed}` }),
    });
  }
  // Same due count, ten times the authorizers: items read must not move.
  for (const a of scenarios) {
    const b = scenarios.find((x) => x.due === a.due && x.authorizers === a.authorizers * 10);
    if (!b) continue;
    const ratio = round(b.itemsRead / a.itemsRead);
    checks.push({
      benchmark: 'refresh-sweep',
      metric: `items read, ${fmtInt(a.due)} due: ${fmtInt(b.authorizers)} vs ${fmtInt(a.authorizers)} total`,
      value: ratio,
      target: '≈ 1 (≤ 1.05)',
      ok: ratio <= 1.05,
      note: `${fmtInt(b.itemsRead)} vs ${fmtInt(a.itemsRead)} items (${round(b.itemsRead / b.due, 2)} per due authorizer)`,
    });
  }
  for (const big of scenarios.filter((s) => s.due === 10_000)) {
    const at = `${fmtInt(big.authorizers)} × ${big.duePercent} % (10 000 due)`;
    checks.push({
      benchmark: 'refresh-sweep',
      metric: `${at}: wall time within one run`,
      value: Math.round(big.wallMs),
      target: `≤ ${budgetMs} ms, not truncated`,
      ok: big.wallMs <= budgetMs && !big.truncated,
    });
    checks.push({
      benchmark: 'refresh-sweep',
      metric: `${at}: most WeChat calls in flight`,
      value: big.wechatPeakInFlight,
      target: `≤ ${SWEEP_CONCURRENCY} (SWEEP_CONCURRENCY)`,
      ok: big.wechatPeakInFlight <= SWEEP_CONCURRENCY,
    });
    checks.push({
      benchmark: 'refresh-sweep',
      metric: `${at}: peak RSS of the sweep process`,
      value: Math.round(big.memory.peakRss / 2 ** 20),
      target: `≤ ${LAMBDA_MEMORY_BYTES / 2 ** 20} MB (Lambda memory)`,
      ok: big.memory.peakRss <= LAMBDA_MEMORY_BYTES,
    });
  }
  return checks;
}
