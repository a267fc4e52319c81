/**
 * `npm run bench`: the performance targets of the service, each as a ratio against a baseline measured in
 * the same run on the same machine, with the absolute numbers for context. Prints the tables and writes
 * bench/results.json. Not part of `npm test`.
 *
 * Flags:
 *   --only=get-token,caller-cache,ticket-push,call-wechat,message-intake,refresh-sweep,cold-start
 *                                                           run a subset
 *   --sizes=1000,10000,100000,1000000                       authorizer counts for the refresh sweep
 *   --quick                                                 fewer iterations, sweep at 1 000 and 10 000 only
 *   --strict                                                exit 1 when a target is missed
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchCallWechat } from './call-wechat';
import { benchCallerCache } from './caller-cache';
import { benchColdStart } from './cold-start';
import { benchGetToken } from './get-token';
import { benchMessageIntake } from './message-intake';
import { benchRefreshSweep } from './refresh-sweep';
import {
  type Check,
  fmtInt,
  fmtKb,
  fmtMb,
  fmtMs,
  fmtRatio,
  latencyTable,
  machineInfo,
  now,
  table,
} from './stats';
import { benchTicketPush } from './ticket-push';

// The SDK warns on Node < 22 when a client is created (none is at import); Lambda runs Node 24.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const BENCHMARKS = [
  'get-token',
  'caller-cache',
  'ticket-push',
  'call-wechat',
  'message-intake',
  'refresh-sweep',
  'cold-start',
] as const;
type Name = (typeof BENCHMARKS)[number];

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    sizes: { type: 'string' },
    quick: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
  },
});
const selected = new Set<Name>(
  flags.only ? (flags.only.split(',').map((s) => s.trim()) as Name[]) : BENCHMARKS
);
for (const name of selected) {
  if (!BENCHMARKS.includes(name)) throw new Error(`unknown benchmark ${name}: ${BENCHMARKS}`);
}
const sizes = flags.sizes
  ? flags.sizes.split(',').map((s) => Number(s.trim()))
  : flags.quick
    ? [1_000, 10_000]
    : [1_000, 10_000, 100_000, 1_000_000];
if (!sizes.every((n) => Number.isInteger(n) && n >= 100)) {
  throw new Error('--sizes takes whole numbers of at least 100 (so that 1 % is one authorizer)');
}

const started = now();
const machine = machineInfo();
const say = (line = '') => process.stdout.write(`${line}\n`);
const heading = (title: string) => say(`\n## ${title}\n`);
const elapsed = () => `${((now() - started) / 1000).toFixed(0)} s`;

say(`# Benchmarks — ${new Date().toISOString()}`);
say(
  `node ${machine.node} · ${machine.platform} · ${machine.cpuModel} · ${machine.cores} cores · ${machine.memoryGb} GB`
);

const results: Record<string, unknown> = {};
const checks: Check[] = [];

if (selected.has('get-token')) {
  say(`\n[${elapsed()}] get-token hot path…`);
  const r = await benchGetToken(flags.quick ? { iterations: 1000, warmup: 200 } : {});
  results.getToken = r;
  checks.push(...r.checks);
  heading(
    `get-token hot path (${fmtInt(r.iterations)} calls each, alternating blocks of ${r.block})`
  );
  say(
    latencyTable(
      ['handler (createHandler + createDeps)', r.handler],
      ['bare GetItem (ConsistentRead)', r.getItem],
      r.ratio
    )
  );
  say(
    `The handler's own work (same code, item served from memory, no SDK/network): ${r.handlerWithoutIoMicros.toFixed(1)} µs per call.`
  );
  const d = r.deployed;
  heading('get-token as deployed (esbuild bundle, `handler` with middy + Powertools, own process)');
  say(
    latencyTable(
      ['deployed handler (inLambda)', d.handler],
      ['bare GetItem (ConsistentRead)', d.getItem],
      d.ratio
    )
  );
  say(
    `Log lines per ordinary call: ${d.logLinesPerCall}${d.sampleLine ? ` (${d.sampleLine.trim().slice(0, 100)})` : ''}.`
  );
  say(
    `GetItem strongly vs eventually consistent (dynalite ignores the flag): median ${fmtMs(d.consistency.strong.median)} vs ${fmtMs(d.consistency.eventual.median)} → ${fmtRatio(d.consistency.ratio)}.`
  );
}

if (selected.has('caller-cache')) {
  say(`\n[${elapsed()}] caller cache…`);
  const r = await benchCallerCache(flags.quick ? { iterations: 500, warmup: 50 } : {});
  results.callerCache = r;
  checks.push(...r.checks);
  heading(
    `a caller's read path through Lambda's Invoke API (${fmtInt(r.iterations)} calls each, alternating blocks of ${r.block})`
  );
  say(
    table(
      ['', 'median', 'p90', 'p99', 'mean', 'invokes'],
      [
        ['cached getAuthorizerToken (client package)', r.cached, r.invokes.cached] as const,
        ['InvokeCommand per call', r.invokePerCall, r.invokes.invokePerCall] as const,
      ].map(([label, s, n]) => [
        label,
        fmtMs(s.median),
        fmtMs(s.p90),
        fmtMs(s.p99),
        fmtMs(s.mean),
        fmtInt(n),
      ])
    )
  );
  say(
    `Cached is ${fmtInt(r.speedup.median)}× faster at the median (${fmtInt(r.speedup.p99)}× at p99); ${fmtInt(r.iterations)} cached calls made ${fmtInt(r.invokes.cached)} invokes, an invoke per call ${fmtInt(r.invokes.invokePerCall)} (${r.invokesSavedPerCall} saved per call).`
  );
}

if (selected.has('ticket-push')) {
  say(`\n[${elapsed()}] ticket push…`);
  const r = await benchTicketPush(flags.quick ? { iterations: 1000, warmup: 200 } : {});
  results.ticketPush = r;
  checks.push(...r.checks);
  heading(
    `ticket push (${fmtInt(r.iterations)} pushes each, alternating blocks of ${r.block}; ${r.writePath})`
  );
  say(
    latencyTable(
      ['auth-event handler (makeHandler)', r.handler],
      ['bare decrypt + conditional PutItem', r.decryptPut],
      r.ratio
    )
  );
  say(
    `Without I/O (DynamoDB answered from memory): handler ${r.handlerWithoutIoMicros.toFixed(1)} µs per push, of which decrypt ${r.decryptMicros.toFixed(1)} µs.`
  );
}

if (selected.has('call-wechat')) {
  say(`\n[${elapsed()}] call-wechat…`);
  const r = await benchCallWechat(flags.quick ? { iterations: 500, warmup: 50 } : {});
  results.callWechat = r;
  checks.push(...r.checks);
  heading(
    `call-wechat (${fmtInt(r.iterations)} calls each, alternating blocks of ${r.block}; getApiQuota on the simulator)`
  );
  say(
    latencyTable(
      ['through call-wechat (middy + Powertools)', r.relayed],
      ['the same call made directly', r.direct],
      r.ratio
    )
  );
  say(
    `Against GetItem + the call by hand (the relay's own work): ${r.workRatio.median}× at the median, ${r.workRatio.p99}× at p99.`
  );
  say(
    `The relay adds ${r.addedMedianMs} ms at the median (the caller's Lambda invoke comes on top).`
  );
}

if (selected.has('message-intake')) {
  say(`\n[${elapsed()}] message intake…`);
  const r = await benchMessageIntake(flags.quick ? { iterations: 500, warmup: 50 } : {});
  results.messageIntake = r;
  checks.push(...r.checks);
  heading(
    `message intake (${fmtInt(r.iterations)} text messages each, alternating blocks of ${r.block}; PutEvents on a local endpoint, DynamoDB on dynalite)`
  );
  say(
    latencyTable(
      ['intake, new message (makeHandler)', r.intake],
      ['decrypt + PutEvents (eventBridgePublisher)', r.baseline],
      r.ratio
    )
  );
  say();
  say(
    latencyTable(
      ['intake, retry already published (dropped)', r.duplicate],
      ['decrypt + PutEvents (eventBridgePublisher)', r.baselineForDuplicate],
      r.duplicateRatio
    )
  );
  say();
  say(
    latencyTable(
      ['intake + conditional PutItem per push', r.intakeWithWrite],
      ['intake (in-memory duplicates)', r.intakeForWrite],
      r.writeRatio
    )
  );
  say(
    `A write per push (the cross-container design, not taken) adds ${r.writeAddsMedianMs} ms at the median.`
  );
  say(
    `Without I/O (the bus answered from memory), median: intake ${r.intakeWithoutIoMicros.toFixed(1)} µs per message, of which decrypt ${r.decryptMicros.toFixed(1)} µs.`
  );
  say(
    r.recentPushesHeapBytes === undefined
      ? 'Recent pushes at their cap: heap not measured (gc unavailable).'
      : `Recent pushes at their cap (${fmtInt(r.recentPushesKept)} ids): ${(r.recentPushesHeapBytes / 2 ** 20).toFixed(1)} MB of heap per container.`
  );
}

if (selected.has('refresh-sweep')) {
  say(`\n[${elapsed()}] refresh sweep at ${sizes.map(fmtInt).join(' / ')} authorizers…`);
  const r = await benchRefreshSweep({ sizes, onProgress: say });
  results.refreshSweep = r;
  checks.push(...r.checks);
  heading(
    `refresh sweep (WeChat simulator +${r.wechatLatencyMs} ms per call, concurrency ${r.concurrency}, budget ${fmtMs(r.budgetMs)})`
  );
  say(
    table(
      [
        'authorizers',
        'due',
        'wall',
        'floor¹',
        'WeChat calls',
        'items read',
        'per due',
        'Get/Query/Update',
        'sweep CPU',
        'CPU/due',
        'dynalite CPU',
        'in flight',
        'busiest partition²',
        'peak RSS (idle)',
        'heap peak / after GC',
      ],
      r.scenarios.map((s) => [
        fmtInt(s.authorizers),
        `${fmtInt(s.due)} (${s.duePercent} %)`,
        fmtMs(s.wallMs),
        fmtMs(s.floorMs),
        fmtInt(s.wechatCalls),
        fmtInt(s.itemsRead),
        (s.itemsRead / s.due).toFixed(2),
        ['Get', 'Query', 'Update'].map((c) => fmtInt(s.dynamoRequests[c] ?? 0)).join('/'),
        fmtMs(s.cpuMs.sweep),
        fmtMs(s.cpuMs.sweep / s.due),
        s.cpuMs.dynalite === undefined ? 'n/a' : fmtMs(s.cpuMs.dynalite),
        String(s.wechatPeakInFlight),
        `${s.busiestPartitionFactor.toFixed(2)}× · ${s.busiestPartitionWritesPerSecond}/s`,
        `${fmtMb(s.memory.peakRss)} (${fmtMb(s.memory.rssBefore)})`,
        `${fmtMb(s.memory.peakHeapUsed)} / ${fmtMb(s.memory.heapAfterGc)}`,
      ])
    )
  );
  say('¹ ceil(due / concurrency) × WeChat latency: the least bounded concurrency allows.');
  say(
    `² Due items on the busiest of the ${r.partitionLoad.shards} \`due\` index shards over an even share, and the index writes per second this run put on it.`
  );
  const load = r.partitionLoad;
  heading(
    `\`due\` index write rate per partition at ${fmtInt(load.authorizers)} authorizers (computed; DynamoDB's limit ${fmtInt(load.limit.writeUnitsPerSecond)} write units/s per partition)`
  );
  say(
    table(
      [
        '',
        'renewals/s',
        'index writes/s = one partition unsharded',
        `busiest of ${load.shards} partitions`,
      ],
      [
        [`steady: each renewed every ${load.renewalIntervalMinutes} min`, load.steady] as const,
        [
          `burst: ${fmtInt(load.burst.cohort)} due together, sweep at its ceiling`,
          load.burst,
        ] as const,
      ].map(([label, rate]) => [
        label,
        fmtInt(rate.renewalsPerSecond),
        `${fmtInt(rate.unshardedUnitsPerSecond)} (${Math.round((rate.unshardedUnitsPerSecond / load.limit.writeUnitsPerSecond) * 100)} %)`,
        `${rate.busiestPartitionUnitsPerSecond} (${(rate.shareOfLimit * 100).toFixed(1)} %)`,
      ])
    )
  );
  say(
    `${load.indexWritesPerRenewal} index writes per renewal (claim 1, save 2); burst reads on the busiest partition ${load.burstReadUnitsPerSecond} units/s of ${fmtInt(load.limit.readUnitsPerSecond)}.`
  );
  say(
    `Seeding: ${r.seeding
      .map(
        (s) =>
          `${fmtInt(s.authorizers)} in ${fmtMs(s.dynamoMs)} (DynamoDB BatchWrite, ${fmtInt(s.itemsPerSecond)} items/s) + ${fmtMs(s.simulatorMs)} (simulator)`
      )
      .join('; ')}`
  );
}

if (selected.has('cold-start')) {
  say(`\n[${elapsed()}] cold start…`);
  const r = await benchColdStart(flags.quick ? { runs: 7 } : {});
  results.coldStart = r;
  checks.push(...r.checks);
  heading(
    `cold start (deployed esbuild settings; median of ${r.runsPerBundle} fresh node processes each)`
  );
  say(
    table(
      [
        'bundle',
        'size',
        'source map',
        'import',
        'ratio',
        'import CPU',
        'ratio',
        'import with source maps²',
        'ratio',
        'largest inputs',
      ],
      [r.baseline, ...r.bundles].map((b) => [
        b.name,
        fmtKb(b.bytes),
        fmtKb(b.sourceMapBytes),
        fmtMs(b.importMs),
        b.ratio === undefined ? '(baseline)' : fmtRatio(b.ratio),
        fmtMs(b.importCpuMs),
        b.cpuRatio === undefined ? '' : fmtRatio(b.cpuRatio),
        fmtMs(b.importWithSourceMapsMs),
        b.ratioWithSourceMaps === undefined ? '' : fmtRatio(b.ratioWithSourceMaps),
        b.largestInputs
          .slice(0, 2)
          .map((i) => `${i.input} ${(i.bytes / 1024).toFixed(0)}K`)
          .join(', '),
      ])
    )
  );
  say('² NODE_OPTIONS=--enable-source-maps, as infra/constructs/service-function.ts deploys it.');
  heading(
    'cold start: AWS SDK bundled (deployed) vs the runtime’s SDK (import + first invocation)'
  );
  say(
    table(
      [
        'function',
        'size bundled',
        'size runtime SDK',
        'bundled',
        'runtime SDK',
        'ratio',
        'CPU ratio',
      ],
      r.sdk.map((c) => [
        c.name,
        fmtKb(c.bundledBytes),
        fmtKb(c.runtimeSdkBytes),
        fmtMs(c.bundledMs),
        fmtMs(c.runtimeSdkMs),
        fmtRatio(c.ratio),
        fmtRatio(c.cpuRatio),
      ])
    )
  );
}

const durationMs = now() - started;
heading('Targets');
say(
  table(
    ['', 'benchmark', 'metric', 'value', 'target', 'note'],
    checks.map((c) => [
      c.ok ? '✓' : '✗',
      c.benchmark,
      c.metric,
      typeof c.value === 'number' ? String(c.value) : c.value,
      c.target,
      c.note ?? '',
    ])
  )
);
const missed = checks.filter((c) => !c.ok);
say(
  `\n${missed.length ? `${missed.length} of ${checks.length} targets missed` : `all ${checks.length} targets met`} · ${(durationMs / 1000).toFixed(0)} s`
);

// Only a full run replaces the committed results; a partial one (--quick, --only, --sizes) goes beside it.
const partial = flags.quick || selected.size < BENCHMARKS.length || flags.sizes !== undefined;
const out = fileURLToPath(
  new URL(partial ? './.tmp/results-partial.json' : './results.json', import.meta.url)
);
await mkdir(dirname(out), { recursive: true });
await writeFile(
  out,
  `${JSON.stringify(
    {
      generatedAt: new Date().toISOString(),
      durationMs: Math.round(durationMs),
      machine,
      flags,
      results,
      checks,
    },
    null,
    2
  )}\n`
);
say(`results: ${out}`);
if (flags.strict && missed.length) process.exitCode = 1;
