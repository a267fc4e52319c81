import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { LAMBDA_BUNDLING } from '../infra/constructs/bundling';
import {
  FUNCTIONS,
  functionEnvironment,
  INVOCATIONS,
  lambdaEnvironment,
  probeBundle,
} from './lambda-probe';
import { type Check, median, round } from './stats';

export { FUNCTIONS } from './lambda-probe';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Bundles with the SDK external resolve it from this repository's node_modules, so they live inside it. */
const IN_REPO = fileURLToPath(new URL('./.tmp/cold-start/', import.meta.url));
const BASELINE = 'baseline-dynamodb-client';
const MAX_BUNDLE_BYTES = 1024 * 1024;
// Against a baseline that bundles the SDK too (36 ms, was 140 ms with the runtime's), the ~15 ms of Powertools,
// middy and the XML parser weigh more as a ratio than they did.
const MAX_INIT_RATIO = 2;
/** The deployed bundles (SDK inside) must start at least this much faster than with the runtime's SDK. */
const MAX_BUNDLED_SDK_RATIO = 0.8;
/** Nothing listens here: every AWS and WeChat call fails at once with ECONNREFUSED. */
const NOWHERE = 'http://127.0.0.1:9';

/**
 * esbuild options equal to what NodejsFunction runs for {@link LAMBDA_BUNDLING}; with `runtimeSdk`, the
 * `@aws-sdk/*` and `@smithy/*` packages stay external, as NodejsFunction does without `bundleAwsSDK`.
 */
function esbuildOptions(runtimeSdk: boolean): BuildOptions {
  const b = LAMBDA_BUNDLING;
  return {
    bundle: true,
    platform: 'node',
    format: b.format === OutputFormat.ESM ? 'esm' : 'cjs',
    target: b.target,
    minify: b.minify,
    sourcemap: b.sourceMap,
    keepNames: b.keepNames,
    mainFields: b.mainFields,
    banner: { js: b.banner },
    external: runtimeSdk || !b.bundleAwsSDK ? ['@aws-sdk/*', '@smithy/*'] : [],
    metafile: true,
    logLevel: 'silent',
  };
}

/** A bundle that does nothing but create a DynamoDB document client at import, as every function needs one. */
const BASELINE_SOURCE = `
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
export const handler = async () => ({ ok: !!client });
`;

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
  /** Median wall time of import + the first invocation (a representative event, see INVOCATIONS). */
  initAndFirstInvokeMs: number;
  /** Median CPU time of import + the first invocation. */
  initAndFirstInvokeCpuMs: number;
  ratio?: number;
  cpuRatio?: number;
  ratioWithSourceMaps?: number;
}

/** The deployed bundle (SDK inside) against the same function bundled to use the runtime's SDK. */
export interface SdkComparison {
  name: string;
  bundledBytes: number;
  runtimeSdkBytes: number;
  /** Import + first invocation, median ms: deployed (SDK bundled) and with the runtime's SDK. */
  bundledMs: number;
  runtimeSdkMs: number;
  ratio: number;
  bundledCpuMs: number;
  runtimeSdkCpuMs: number;
  cpuRatio: number;
}

type Samples = {
  plain: number[];
  cpu: number[];
  maps: number[];
  ready: number[];
  invoke: number[];
  invokeCpu: number[];
};

export interface ColdStartResult {
  runsPerBundle: number;
  nodeForProbe: string;
  bundles: BundleResult[];
  baseline: BundleResult;
  /** Why the SDK is bundled: each function both ways. */
  sdk: SdkComparison[];
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

/** What the deployed functions see at init besides the probe's Lambda variables (LOG_LEVEL as deployed). */
export const LAMBDA_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  ...functionEnvironment({ LOG_LEVEL: 'INFO' }),
  // Lambda's Node 24 runtime never prints it; Node 20 here would.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

export interface BuiltBundle {
  name: string;
  /** `<outDir>/<name>/index.mjs` */
  outfile: string;
  dir: string;
  bytes: number;
  sourceMapBytes: number;
  largestInputs: { input: string; bytes: number }[];
}

/**
 * Bundles one entry (or, without one, the DynamoDB-client-only baseline) as the stack deploys it, or with
 * `runtimeSdk` leaving the AWS SDK to the runtime, into `<outDir>/<name>/index.mjs`.
 */
export async function bundle(
  name: string,
  entry: string | undefined,
  outDir: string,
  options: { runtimeSdk?: boolean } = {}
): Promise<BuiltBundle> {
  const dir = join(outDir, name);
  const outfile = join(dir, 'index.mjs');
  const result = await build({
    ...esbuildOptions(options.runtimeSdk ?? false),
    ...(entry
      ? { entryPoints: [entry] }
      : { stdin: { contents: BASELINE_SOURCE, resolveDir: ROOT, loader: 'ts' } }),
    outfile,
    absWorkingDir: ROOT,
  });
  return {
    name,
    outfile,
    dir,
    bytes: (await stat(outfile)).size,
    sourceMapBytes: (await stat(`${outfile}.map`)).size,
    largestInputs: largestInputs(result.metafile as Metafile),
  };
}

interface Built extends BuiltBundle {
  key: string;
  runtimeSdk: boolean;
  events: unknown[];
}

async function bundleFor(
  name: string,
  runtimeSdk: boolean,
  outDir: string,
  entry: string | undefined
): Promise<Built> {
  const built = await bundle(name, entry, join(outDir, runtimeSdk ? 'runtime-sdk' : 'bundled'), {
    runtimeSdk,
  });
  const invocations = INVOCATIONS[name as keyof typeof INVOCATIONS];
  return {
    ...built,
    key: `${name}${runtimeSdk ? ' (runtime SDK)' : ''}`,
    runtimeSdk,
    // The invocation that reaches DynamoDB where there is one: the SDK's lazy parts load then.
    events: invocations ? [invocations.at(-1)?.event] : [{}],
  };
}

async function probe(b: Built, sourceMaps: boolean) {
  const result = await probeBundle(b.outfile, {
    cwd: b.dir,
    env: { ...lambdaEnvironment(b.name, NOWHERE), ...functionEnvironment() },
    events: b.events,
    sourceMaps,
  });
  if (result.loadError) throw new Error(`${b.key} did not load: ${result.loadError.message}`);
  return result;
}

/**
 * Each function's deployed bundle (the esbuild settings of `infra/constructs/bundling.ts`, pinned AWS SDK
 * inside) against a bundle that only creates a DynamoDB client, and against the same function bundled to
 * use the runtime's SDK instead. Size, module-initialisation time measured inside a fresh `node` process
 * around `await import(bundle)`, and import + first invocation (every AWS and WeChat endpoint refuses at
 * once), `runs` times each, round-robin over the bundles so machine noise hits all alike.
 *
 * The deployed bundles run from a temporary directory outside the repository (nothing to resolve but
 * themselves); the runtime-SDK ones resolve `@aws-sdk/*` from this repository's node_modules, standing in
 * for the runtime's copy.
 */
export async function benchColdStart(options: { runs?: number } = {}): Promise<ColdStartResult> {
  const runs = options.runs ?? 15;
  await rm(IN_REPO, { recursive: true, force: true });
  await mkdir(IN_REPO, { recursive: true });
  const outside = await mkdtemp(join(tmpdir(), 'cold-start-'));
  try {
    const entry = (name: string) => `${ROOT}functions/${name}.ts`;
    const built = [
      await bundleFor(BASELINE, false, outside, undefined),
      ...(await Promise.all(FUNCTIONS.map((name) => bundleFor(name, false, outside, entry(name))))),
      ...(await Promise.all(FUNCTIONS.map((name) => bundleFor(name, true, IN_REPO, entry(name))))),
    ];
    const samples = new Map<string, Samples>(
      built.map((b) => [
        b.key,
        { plain: [], cpu: [], maps: [], ready: [], invoke: [], invokeCpu: [] },
      ])
    );
    // One untimed run each: the first read of the files from disk is not what Lambda's init pays.
    for (const b of built) await probe(b, false);
    for (let round = 0; round < runs; round++) {
      const order = built.map((_, i) => built[(i + round) % built.length] as Built);
      for (const b of order) {
        const s = samples.get(b.key) as Samples;
        const plain = await probe(b, false);
        s.plain.push(plain.importMs);
        s.cpu.push(plain.importCpuMs);
        s.ready.push(plain.sinceProcessStartMs);
        s.invoke.push(plain.importMs + plain.firstInvokeMs);
        s.invokeCpu.push(plain.totalCpuMs);
        if (!b.runtimeSdk) s.maps.push((await probe(b, true)).importMs);
      }
    }

    const resultOf = (b: Built): BundleResult => {
      const s = samples.get(b.key) as Samples;
      return {
        name: b.name,
        bytes: b.bytes,
        sourceMapBytes: b.sourceMapBytes,
        largestInputs: b.largestInputs,
        importMs: round(median(s.plain), 2),
        runs: s.plain.map((v) => round(v, 2)),
        importCpuMs: round(median(s.cpu), 2),
        importWithSourceMapsMs: s.maps.length ? round(median(s.maps), 2) : Number.NaN,
        runsWithSourceMaps: s.maps.map((v) => round(v, 2)),
        readySinceProcessStartMs: round(median(s.ready), 2),
        initAndFirstInvokeMs: round(median(s.invoke), 2),
        initAndFirstInvokeCpuMs: round(median(s.invokeCpu), 2),
      };
    };
    const deployed = built.filter((b) => !b.runtimeSdk).map(resultOf);
    const baseline = deployed[0] as BundleResult;
    const bundles = deployed.slice(1).map((r) => ({
      ...r,
      ratio: round(r.importMs / baseline.importMs),
      cpuRatio: round(r.importCpuMs / baseline.importCpuMs),
      ratioWithSourceMaps: round(r.importWithSourceMapsMs / baseline.importWithSourceMapsMs),
    }));
    const sdk: SdkComparison[] = bundles.map((r) => {
      const other = built.find((b) => b.runtimeSdk && b.name === r.name) as Built;
      const o = resultOf(other);
      return {
        name: r.name,
        bundledBytes: r.bytes,
        runtimeSdkBytes: other.bytes,
        bundledMs: r.initAndFirstInvokeMs,
        runtimeSdkMs: o.initAndFirstInvokeMs,
        ratio: round(r.initAndFirstInvokeMs / o.initAndFirstInvokeMs),
        bundledCpuMs: r.initAndFirstInvokeCpuMs,
        runtimeSdkCpuMs: o.initAndFirstInvokeCpuMs,
        cpuRatio: round(r.initAndFirstInvokeCpuMs / o.initAndFirstInvokeCpuMs),
      };
    });
    const checks: Check[] = [
      ...bundles.flatMap((b) => [
        {
          benchmark: 'cold-start',
          metric: `${b.name}: bundle size (AWS SDK inside)`,
          value: `${(b.bytes / 1024).toFixed(1)} KB`,
          target: '≤ 1 MB',
          ok: b.bytes <= MAX_BUNDLE_BYTES,
        },
        {
          benchmark: 'cold-start',
          metric: `${b.name}: init / DynamoDB-client-only init`,
          value: b.ratio,
          target: `≤ ${MAX_INIT_RATIO}`,
          ok: b.ratio <= MAX_INIT_RATIO,
        },
      ]),
      ...sdk.map((c) => ({
        benchmark: 'cold-start',
        metric: `${c.name}: init + first invoke, SDK bundled / runtime's SDK`,
        value: c.ratio,
        target: `≤ ${MAX_BUNDLED_SDK_RATIO}`,
        ok: c.ratio <= MAX_BUNDLED_SDK_RATIO,
        note: `CPU ${c.cpuRatio}×`,
      })),
    ];
    return { runsPerBundle: runs, nodeForProbe: process.version, bundles, baseline, sdk, checks };
  } finally {
    await rm(outside, { recursive: true, force: true });
  }
}
