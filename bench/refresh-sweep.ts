import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BatchWriteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { startWechatSimulator, type WechatSimulator } from '../local/simulator';
import { DynamoDbTokenStore } from '../shared/store/dynamodb-token-store';
import type { NewAuthorization } from '../shared/store/token-store';
import { getComponentAccessToken } from '../shared/tokens/component-token';
import { SWEEP_CONCURRENCY, SWEEP_DEADLINE_RESERVE_MS } from '../shared/tokens/policy';
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

/**
 * Each table holds three groups, by `refreshAt` relative to the seeding time T:
 * - 10 % at T − 10 min: due in the first run (service clock = T);
 * - 1 % at T + 30 min: due in the second run (service clock = T + 40 min), when the first group, refreshed
 *   by the first run, sits at about T + 1 h 45 min;
 * - the rest at T + 3 h 20 min: never due here.
 */
const RUNS = [
  { duePercent: 10, clockOffsetMs: 0 },
  { duePercent: 1, clockOffsetMs: 40 * MINUTE },
] as const;

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
  memory: SweepRun['memory'];
  /** CPU used during the run by the sweep process, by dynalite, and by this process (the simulator). */
  cpuMs: { sweep: number; dynalite?: number; simulator: number };
}

export interface RefreshSweepResult {
  wechatLatencyMs: number;
  concurrency: number;
  budgetMs: number;
  seeding: SeedTiming[];
  scenarios: SweepScenario[];
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
    dueKey: `DUE#${a.componentAppId}`,
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

async function batchWrite(dynamo: BenchDynamo, tableName: string, items: object[]) {
  let next = 0;
  const writer = async () => {
    while (next < items.length) {
      const chunk = items.slice(next, next + BATCH);
      next += BATCH;
      let requests = chunk.map((Item) => ({ PutRequest: { Item } }));
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

/**
 * Registers `total` authorizers with the simulator (each gets a refresh token there) and writes the same
 * authorizers into the table, shaped as `saveAuthorization` writes them. The last one is written through
 * the real store and compared with what this bench would have written, so the shapes cannot drift.
 */
async function seed(
  dynamo: BenchDynamo,
  tableName: string,
  simulator: WechatSimulator,
  total: number,
  t: number
): Promise<SeedTiming> {
  const simStart = now();
  const refreshTokens: string[] = [];
  for (let i = 0; i < total; i++) {
    const appId = appIdOf(i);
    simulator.authorize(appId);
    refreshTokens.push(simulator.state.authorizers.get(appId)?.refreshToken as string);
  }
  const simulatorMs = now() - simStart;

  const dueFirst = Math.round((total * RUNS[0].duePercent) / 100);
  const dueSecond = Math.round((total * RUNS[1].duePercent) / 100);
  const authorization = (i: number): NewAuthorization => {
    const refreshAt =
      i < dueFirst
        ? t - 10 * MINUTE + (i % 1000)
        : i < dueFirst + dueSecond
          ? t + 30 * MINUTE + (i % 1000)
          : t + 200 * MINUTE + (i % 1000);
    return {
      componentAppId: COMPONENT_APPID,
      authorizerAppId: appIdOf(i),
      accessToken: `seededaccesstoken@@@${i}`,
      expiresAt: refreshAt + 15 * MINUTE,
      refreshToken: refreshTokens[i] as string,
      funcInfo: [1, 2, 3],
      refreshAt,
      authorizedAt: t - 24 * HOUR,
    };
  };
  const dynamoStart = now();
  await batchWrite(
    dynamo,
    tableName,
    Array.from({ length: total - 1 }, (_, i) => authorizationItem(authorization(i), t))
  );
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
 * The scheduled sweep at 1 000 / 10 000 / 100 000 authorizers with 10 % and 1 % due, each run in its own
 * process against dynalite and the WeChat simulator (50 ms per call). Counts WeChat calls at the simulator
 * and DynamoDB items read at the worker's client.
 */
export async function benchRefreshSweep(
  options: { sizes?: number[]; onProgress?: (line: string) => void } = {}
): Promise<RefreshSweepResult> {
  const sizes = options.sizes ?? [1_000, 10_000, 100_000];
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
        const timing = await seed(dynamo, tableName, simulator, total, t);
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
        for (const run of RUNS) {
          const serviceNow = Date.now() + run.clockOffsetMs;
          await deps.store.putTicket({
            componentAppId: COMPONENT_APPID,
            ticket,
            createTime: serviceNow,
            receivedAt: serviceNow,
          });
          if (run === RUNS[0]) await getComponentAccessToken(deps);
          simulator.resetCalls();

          const due = Math.round((total * run.duePercent) / 100);
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
  return {
    wechatLatencyMs: WECHAT_LATENCY_MS,
    concurrency: SWEEP_CONCURRENCY,
    budgetMs,
    seeding,
    scenarios,
    checks: sweepChecks(scenarios, budgetMs),
  };
}

function sweepChecks(scenarios: SweepScenario[], budgetMs: number): Check[] {
  const checks: Check[] = [];
  const label = (s: SweepScenario) => `${fmtInt(s.authorizers)} × ${s.duePercent} %`;
  for (const s of scenarios) {
    const failed = Object.values(s.failed).reduce((a, b) => a + b, 0);
    checks.push({
      benchmark: 'refresh-sweep',
      metric: `${label(s)}: WeChat calls = due`,
      value: `${fmtInt(s.wechatCalls)} / ${fmtInt(s.due)}`,
      target: '= due',
      ok: s.wechatCalls === s.due && s.refreshed === s.due && failed === 0 && !s.truncated,
      ...(s.wechatCalls === s.due
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
  const big = scenarios.find((s) => s.due === 10_000);
  if (big) {
    checks.push({
      benchmark: 'refresh-sweep',
      metric: '10 000 due: wall time within one run',
      value: Math.round(big.wallMs),
      target: `≤ ${budgetMs} ms, not truncated`,
      ok: big.wallMs <= budgetMs && !big.truncated,
    });
    checks.push({
      benchmark: 'refresh-sweep',
      metric: '10 000 due: most WeChat calls in flight',
      value: big.wechatPeakInFlight,
      target: `≤ ${SWEEP_CONCURRENCY} (SWEEP_CONCURRENCY)`,
      ok: big.wechatPeakInFlight <= SWEEP_CONCURRENCY,
    });
    checks.push({
      benchmark: 'refresh-sweep',
      metric: '10 000 due: peak RSS of the sweep process',
      value: Math.round(big.memory.peakRss / 2 ** 20),
      target: `≤ ${LAMBDA_MEMORY_BYTES / 2 ** 20} MB (Lambda memory)`,
      ok: big.memory.peakRss <= LAMBDA_MEMORY_BYTES,
    });
  }
  return checks;
}
