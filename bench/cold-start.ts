import { execFile } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { type Check, median, round } from './stats';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = fileURLToPath(new URL('./.tmp/cold-start/', import.meta.url));

/** Every Lambda entry under functions/ (infra/token-service-stack.ts deploys each one). */
export const FUNCTIONS = [
  'auth-event',
  'authorize-callback',
  'authorize-page',
  'get-token',
  'refresh',
] as const;
const BASELINE = 'baseline-dynamodb-client';
const MAX_BUNDLE_BYTES = 500 * 1024;
const MAX_INIT_RATIO = 1.5;

/**
 * The bundling of infra/constructs/service-function.ts (NodejsFunction with OutputFormat.ESM, target node22,
 * minify, source maps, keepNames, mainFields module/main, the createRequire banner), and the external
 * `@aws-sdk/*` that NodejsFunction adds for Node ≥ 18 runtimes, which ship the SDK.
 */
const LAMBDA_BUNDLING: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  sourcemap: true,
  keepNames: true,
  mainFields: ['module', 'main'],
  banner: {
    js: "import{createRequire}from'module';const require=createRequire(import.meta.url);",
  },
  external: ['@aws-sdk/*'],
  metafile: true,
  logLevel: 'silent',
};

/** A bundle that does nothing but create a DynamoDB document client at import, as every function needs one. */
const BASELINE_SOURCE = `
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
export const handler = async () => ({ ok: !!client });
`;

/** Imports the bundle in a fresh process and prints how long the import took, from inside that process. */
const PROBE = `
const { performance } = await import('node:perf_hooks');
const cpu = process.cpuUsage();
const started = performance.now();
const mod = await import(process.env.BENCH_BUNDLE_URL);
const ready = performance.now();
const used = process.cpuUsage(cpu);
if (typeof mod.handler !== 'function') throw new Error('the bundle exports no handler');
process.stdout.write(JSON.stringify({
  importMs: ready - started,
  importCpuMs: (used.user + used.system) / 1000,
  sinceProcessStartMs: ready,
}));
`;

/** What a deployed function sees at init; no credentials, nothing reaches AWS during import. */
const LAMBDA_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  COMPONENT_APPID: 'wx0c0mp0nent00001',
  TOKEN_TABLE_NAME: 'tokens',
  COMPONENT_SECRET_ID: 'wechat-token-service/bench/component',
  POWERTOOLS_SERVICE_NAME: 'wechat-token-service',
  POWERTOOLS_METRICS_NAMESPACE: 'WeChatTokenService',
  LOG_LEVEL: 'INFO',
  // Lambda's Node 24 runtime never prints it; Node 20 here would.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

export interface BundleResult {
  name: string;
  bytes: number;
  sourceMapBytes: number;
  /** Largest inputs in the minified output, by package (or first-party folder). */
  largestInputs: { input: string; bytes: number }[];
  /** Median import time in a fresh process (ms), and each run. */
  importMs: number;
  runs: number[];
  /**
   * Median CPU time of the import (ms, all threads of the child): less sensitive than wall time to other
   * work on a shared machine.
   */
  importCpuMs: number;
  /** The same with NODE_OPTIONS=--enable-source-maps, as the stack deploys it. */
  importWithSourceMapsMs: number;
  runsWithSourceMaps: number[];
  /** Median time from process start until the handler is importable (ms), for context. */
  readySinceProcessStartMs: number;
  ratio?: number;
  cpuRatio?: number;
  ratioWithSourceMaps?: number;
}

type Samples = { plain: number[]; cpu: number[]; maps: number[]; ready: number[] };

export interface ColdStartResult {
  runsPerBundle: number;
  nodeForProbe: string;
  bundles: BundleResult[];
  baseline: BundleResult;
  checks: Check[];
}

function largestInputs(metafile: Metafile): { input: string; bytes: number }[] {
  const byGroup = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
      const group = pkg ?? input.split('/').slice(0, 2).join('/');
      byGroup.set(group, (byGroup.get(group) ?? 0) + bytesInOutput);
    }
  }
  return [...byGroup]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([input, bytes]) => ({ input, bytes }));
}

async function bundle(name: string, entry: string | undefined) {
  const outfile = `${OUT}${name}/index.mjs`;
  const result = await build({
    ...LAMBDA_BUNDLING,
    ...(entry
      ? { entryPoints: [entry] }
      : { stdin: { contents: BASELINE_SOURCE, resolveDir: ROOT, loader: 'ts' } }),
    outfile,
    absWorkingDir: ROOT,
  });
  return {
    name,
    outfile,
    bytes: (await stat(outfile)).size,
    sourceMapBytes: (await stat(`${outfile}.map`)).size,
    largestInputs: largestInputs(result.metafile as Metafile),
  };
}

async function probe(outfile: string, sourceMaps: boolean) {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', PROBE], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      ...LAMBDA_ENV,
      BENCH_BUNDLE_URL: pathToFileURL(outfile).href,
      ...(sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
    },
  });
  return JSON.parse(stdout) as {
    importMs: number;
    importCpuMs: number;
    sinceProcessStartMs: number;
  };
}

/**
 * Each function's bundle (the deployed esbuild settings) against a bundle that only creates a DynamoDB
 * client: size, and module-initialisation time measured inside a fresh `node` process around
 * `await import(bundle)`, `runs` times each, round-robin over the bundles so machine noise hits all alike.
 * `@aws-sdk/*` stays external, resolved from this repository's node_modules as Lambda resolves its own.
 */
export async function benchColdStart(options: { runs?: number } = {}): Promise<ColdStartResult> {
  const runs = options.runs ?? 15;
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  const built = [
    await bundle(BASELINE, undefined),
    ...(await Promise.all(FUNCTIONS.map((name) => bundle(name, `${ROOT}functions/${name}.ts`)))),
  ];
  const samples = new Map<string, Samples>(
    built.map((b) => [b.name, { plain: [], cpu: [], maps: [], ready: [] }])
  );
  // One untimed import each: the first read of the files from disk is not what Lambda's init pays.
  for (const b of built) await probe(b.outfile, false);
  for (let round = 0; round < runs; round++) {
    const order = built.map((_, i) => built[(i + round) % built.length] as (typeof built)[number]);
    for (const b of order) {
      const s = samples.get(b.name) as Samples;
      const plain = await probe(b.outfile, false);
      s.plain.push(plain.importMs);
      s.cpu.push(plain.importCpuMs);
      s.ready.push(plain.sinceProcessStartMs);
      s.maps.push((await probe(b.outfile, true)).importMs);
    }
  }

  const results: BundleResult[] = built.map((b) => {
    const s = samples.get(b.name) as Samples;
    return {
      name: b.name,
      bytes: b.bytes,
      sourceMapBytes: b.sourceMapBytes,
      largestInputs: b.largestInputs,
      importMs: round(median(s.plain), 2),
      runs: s.plain.map((v) => round(v, 2)),
      importCpuMs: round(median(s.cpu), 2),
      importWithSourceMapsMs: round(median(s.maps), 2),
      runsWithSourceMaps: s.maps.map((v) => round(v, 2)),
      readySinceProcessStartMs: round(median(s.ready), 2),
    };
  });
  const baseline = results[0] as BundleResult;
  const bundles = results.slice(1).map((r) => ({
    ...r,
    ratio: round(r.importMs / baseline.importMs),
    cpuRatio: round(r.importCpuMs / baseline.importCpuMs),
    ratioWithSourceMaps: round(r.importWithSourceMapsMs / baseline.importWithSourceMapsMs),
  }));
  const checks: Check[] = bundles.flatMap((b) => [
    {
      benchmark: 'cold-start',
      metric: `${b.name}: bundle size`,
      value: `${(b.bytes / 1024).toFixed(1)} KB`,
      target: '≤ 500 KB',
      ok: b.bytes <= MAX_BUNDLE_BYTES,
    },
    {
      benchmark: 'cold-start',
      metric: `${b.name}: init / DynamoDB-client-only init`,
      value: b.ratio,
      target: `≤ ${MAX_INIT_RATIO}`,
      ok: b.ratio <= MAX_INIT_RATIO,
    },
  ]);
  return { runsPerBundle: runs, nodeForProbe: process.version, bundles, baseline, checks };
}
