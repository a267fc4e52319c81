/**
 * Synthesizes the stack the way `npm run synth` does for the default settings, each deploy option once and
 * both China regions, and runs cfn-lint on each template with that region's resource specification (docs/deploy.md,
 * China regions). Fails when a synth fails (cdk-nag included) or cfn-lint reports anything but
 * W3005: CDK writes a `DependsOn` on each function's role that its `Fn::GetAtt` already implies.
 *
 * Run: `npm run lint:templates` (needs `cfn-lint` on the PATH: `pip install cfn-lint`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const APPID = 'wx0000000000000000';
const CERTIFICATE =
  'arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ab-cdef-0123456789ab';
const KEY = 'arn:aws:kms:us-east-1:123456789012:key/0123abcd-4567-89ab-cdef-0123456789ab';
/** cfn-lint findings every template has and that are not problems (see above). */
const EXPECTED = new Set(['W3005']);

interface Configuration {
  readonly name: string;
  readonly context: Record<string, string>;
  /** The region whose resource specification cfn-lint checks against. */
  readonly lintRegion: string;
}

const CONFIGURATIONS: readonly Configuration[] = [
  { name: 'default', context: {}, lintRegion: 'us-east-1' },
  { name: 'NAT gateway per zone', context: { natGatewayPerAz: 'true' }, lintRegion: 'us-east-1' },
  { name: 'NAT instance', context: { egress: 'nat-instance' }, lintRegion: 'us-east-1' },
  { name: 'created key', context: { kmsKey: 'create' }, lintRegion: 'us-east-1' },
  { name: 'imported key', context: { kmsKey: KEY }, lintRegion: 'us-east-1' },
  {
    name: 'custom domain',
    context: {
      authorizeDomain: 'auth.example.com',
      authorizeDomainCertificateArn: CERTIFICATE,
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      hostedZoneName: 'example.com',
      disableExecuteApiEndpoint: 'true',
    },
    lintRegion: 'us-east-1',
  },
  {
    name: 'imports, callers, isolation',
    context: {
      tokenTableName: 'WeChatTokenService-prod-TokenTable-1ABC',
      componentSecretName: 'wechat/component',
      messageSecretName: 'wechat/message',
      egressEipAllocationIds: 'eipalloc-0123456789abcdef0',
      getTokenCallerAccountIds: '111122223333',
      alarmEmail: 'ops@example.com',
      getTokenReservedConcurrency: '50',
      refreshReservedConcurrency: '3',
      publicRouteConcurrencyCap: '10',
    },
    lintRegion: 'us-east-1',
  },
  ...['cn-north-1', 'cn-northwest-1'].map((region) => ({
    name: `China ${region}, created key, NAT instance`,
    context: { region, lambdaRuntime: 'nodejs22.x', kmsKey: 'create', egress: 'nat-instance' },
    lintRegion: region,
  })),
  ...['cn-north-1', 'cn-northwest-1'].map((region) => ({
    name: `China ${region}`,
    context: { region, lambdaRuntime: 'nodejs22.x' },
    lintRegion: region,
  })),
];

function run(command: string, args: string[], env?: NodeJS.ProcessEnv) {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (result.error) throw result.error;
  return { code: result.status ?? 1, output: `${result.stdout}${result.stderr}` };
}

if (run('cfn-lint', ['--version']).code !== 0) {
  console.error('cfn-lint is not on the PATH: pip install cfn-lint');
  process.exit(1);
}
const root = mkdtempSync(join(tmpdir(), 'lint-templates-'));
let failed = 0;
try {
  for (const [index, { name, context, lintRegion }] of CONFIGURATIONS.entries()) {
    const outdir = join(root, String(index));
    const args = ['cdk', 'synth', '--quiet', '-o', outdir, '-c', `componentAppId=${APPID}`];
    for (const [key, value] of Object.entries(context)) args.push('-c', `${key}=${value}`);
    // The settings come from -c alone, never from a deploy.context.json lying next to cdk.json.
    const synth = run('npx', args, { DEPLOY_CONTEXT_FILE: join(root, 'none.json') });
    if (synth.code !== 0) {
      failed += 1;
      console.log(`FAIL ${name}: cdk synth\n${synth.output}`);
      continue;
    }
    const templates = readdirSync(outdir)
      .filter((f) => f.endsWith('.template.json'))
      .map((f) => join(outdir, f));
    const lint = run('cfn-lint', [
      '--regions',
      lintRegion,
      '--format',
      'parseable',
      '--',
      ...templates,
    ]);
    const findings = lint.output
      .split('\n')
      .map((line) => /:([EWI]\d{4}):/.exec(line)?.[1])
      .filter((rule): rule is string => rule !== undefined);
    const unexpected = findings.filter((rule) => !EXPECTED.has(rule));
    if (unexpected.length > 0 || (lint.code !== 0 && findings.length === 0)) {
      failed += 1;
      console.log(
        `FAIL ${name} (cfn-lint, ${lintRegion}): ${unexpected.join(', ')}\n${lint.output}`
      );
    } else {
      const expected =
        findings.length > 0 ? ` (${findings.length} × ${[...EXPECTED].join(', ')})` : '';
      console.log(`ok   ${name}: synth, cdk-nag, cfn-lint ${lintRegion}${expected}`);
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log(`${CONFIGURATIONS.length - failed} of ${CONFIGURATIONS.length} configurations pass`);
process.exit(failed > 0 ? 1 : 0);
