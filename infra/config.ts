/**
 * Deploy-time configuration: the CDK context (the operator's `deploy.context.json`, `cdk.json`'s `context`,
 * `-c key=value`) turned into a typed, validated {@link StackConfig}. Every problem, an unknown key included, is
 * collected and reported in one error, so a deployer fixes the settings once instead of once per key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EGRESS_AZ_COUNT, type EgressKind } from './constructs/egress-vpc';

/** Validated deploy-time configuration of one token-service stack. */
export interface StackConfig {
  /** The third-party platform's appid (component_appid, 第三方平台 appid). */
  readonly componentAppId: string;
  /**
   * Deployment name; part of the stack name, so several stages can share an account.
   * @default 'prod'
   */
  readonly stage: string;
  /**
   * One NAT gateway (with its own Elastic IP) in each of the {@link EGRESS_AZ_COUNT} zones instead of one
   * shared NAT: WeChat egress survives a zone outage, for one more NAT gateway and IP per month.
   * @default false
   */
  readonly natGatewayPerAz: boolean;
  /**
   * `nat-instance`: one EC2 NAT instance on the retained Elastic IP instead of the NAT gateway, for about a
   * tenth of the price (docs/deploy.md, Egress).
   * @default 'nat-gateway'
   */
  readonly egress: EgressKind;
  /**
   * The NAT instance's type, with `egress: nat-instance`.
   * @default 't4g.nano'
   */
  readonly natInstanceType?: string;
  /**
   * Existing Elastic IP allocation ids for the NAT gateways, one per NAT (so IPs already on WeChat's
   * whitelist survive a rebuilt stack).
   * @default - new Elastic IPs are created and retained when the stack is deleted
   */
  readonly egressEipAllocationIds: readonly string[];
  /**
   * Use this existing token table (e.g. the one a destroyed stack retained) instead of creating one.
   * @default - a table is created and retained when the stack is deleted
   */
  readonly tokenTableName?: string;
  /**
   * Use this existing Secrets Manager secret (`{"componentAppSecret"}`) instead of creating one.
   * @default - a secret is created and retained when the stack is deleted
   */
  readonly componentSecretName?: string;
  /**
   * Use this existing Secrets Manager secret (`{"token","encodingAesKey"}`) instead of creating one.
   * @default - a secret is created and retained when the stack is deleted
   */
  readonly messageSecretName?: string;
  /**
   * Hostname that the deployer maps to the HTTP API as a custom domain (done outside this stack) and registers
   * as the 授权发起页域名. The authorization functions then build `redirect_uri` on it.
   * @default - URLs use the HTTP API's execute-api endpoint
   */
  readonly authorizeDomain?: string;
  /**
   * ACM certificate (in the stack's region) for {@link authorizeDomain}: with it the stack creates the API
   * Gateway custom domain and its mapping itself, so `cdk destroy` and an API replacement take them along.
   * @default - the custom domain is mapped by hand outside the stack
   */
  readonly authorizeDomainCertificateArn?: string;
  /**
   * Route 53 hosted zone of {@link authorizeDomain}, by id and name (no lookup: synth stays offline): the
   * stack adds the alias record to the custom domain. Needs `authorizeDomainCertificateArn`.
   * @default - point the domain at the `AuthorizeDomainTarget` output yourself (CNAME)
   */
  readonly hostedZoneId?: string;
  readonly hostedZoneName?: string;
  /**
   * Turns off the API's default execute-api endpoint once the custom domain serves it, so that WeChat and
   * merchants reach it only on the registered domain. Needs `authorizeDomainCertificateArn`.
   * @default false
   */
  readonly disableExecuteApiEndpoint: boolean;
  /**
   * Email address subscribed to the alarm topic.
   * @default - the topic exists without subscriptions; subscribe your own paging to `AlarmTopicArn`
   */
  readonly alarmEmail?: string;
  /**
   * AWS accounts (12 digits each) whose principals may invoke get-token through a resource policy; they still
   * need an identity policy of their own (the `GetTokenCallerPolicy` output).
   * @default - none: only principals of this account, through IAM
   */
  readonly getTokenCallerAccountIds: readonly string[];
  /**
   * The path prefixes call-wechat lets callers reach (`CALL_WECHAT_PATH_PREFIXES`); the APIs that mint or
   * reset credentials stay refused whatever this says.
   * @default - `/cgi-bin/`, `/wxa/`, `/sns/component/`, `/sns/oauth2/component/`, `/datacube/`, `/card/`
   */
  readonly callWechatPathPrefixes: readonly string[];
  /**
   * The platform's name as merchants know it, shown on the authorization pages (`PLATFORM_DISPLAY_NAME`).
   * @default - the pages name no platform
   */
  readonly platformDisplayName?: string;
  /**
   * Reserved concurrency of get-token: its guaranteed share of the account's Lambda concurrency, and its
   * ceiling. Lambda refuses a reservation that would leave less than 100 of the account's limit unreserved.
   * @default - none: get-token shares the account's unreserved pool
   */
  readonly getTokenReservedConcurrency?: number;
  /**
   * Reserved concurrency of refresh (at least {@link MIN_REFRESH_CONCURRENCY}: scheduled runs overlap, and
   * operators' CLI calls run in refresh too).
   * @default - none: refresh shares the account's unreserved pool
   */
  readonly refreshReservedConcurrency?: number;
  /**
   * The most concurrent executions of each public route's function (auth-event, authorize-page,
   * authorize-callback, wechat-message), set as each one's reserved concurrency: strangers can reach these
   * routes, and this keeps them from taking the concurrency get-token and refresh need. Being a reservation,
   * it also sets aside 4 × this value.
   * @default - none: the public functions share the account's unreserved pool
   */
  readonly publicRouteConcurrencyCap?: number;
  /**
   * The region the stack is for. Unset, the template is environment-agnostic and deploys to whichever region
   * `cdk deploy` targets. Set it for the China regions (`cn-north-1`, `cn-northwest-1`, partition `aws-cn`):
   * there Lambda offers no X-Ray integration, so tracing is turned off, and {@link lambdaRuntime} must be
   * named (docs/deploy.md, China regions).
   * @default - environment-agnostic
   */
  readonly region?: string;
  /**
   * A customer-managed KMS key for the table, both secrets, the alarm topic and the scheduler's dead-letter
   * queue: `'create'` for a key this stack creates (yearly rotation, retained on delete), or an existing
   * key's ARN (docs/deploy.md, Keys of your own).
   * @default - AWS-managed keys (the topic unencrypted)
   */
  readonly kmsKey?: 'create' | string;
  /** True when {@link region} is one of the AWS China regions. */
  readonly chinaRegion: boolean;
  /**
   * The functions' Node.js runtime. AWS's runtime release dates do not apply to the China regions, so there
   * it has no default: name one the region offers.
   * @default 'nodejs24.x' (outside the China regions)
   */
  readonly lambdaRuntime: LambdaRuntimeName;
}

/** The Node.js runtimes the bundles are built for (esbuild target `node22`: both run them). */
export const LAMBDA_RUNTIMES = ['nodejs24.x', 'nodejs22.x'] as const;
export type LambdaRuntimeName = (typeof LAMBDA_RUNTIMES)[number];

/** The context keys {@link parseStackConfig} reads, in the order docs/deploy.md documents them. */
export const CONTEXT_KEYS = [
  'componentAppId',
  'stage',
  'natGatewayPerAz',
  'egress',
  'natInstanceType',
  'egressEipAllocationIds',
  'tokenTableName',
  'componentSecretName',
  'messageSecretName',
  'authorizeDomain',
  'authorizeDomainCertificateArn',
  'hostedZoneId',
  'hostedZoneName',
  'disableExecuteApiEndpoint',
  'alarmEmail',
  'getTokenCallerAccountIds',
  'callWechatPathPrefixes',
  'platformDisplayName',
  'getTokenReservedConcurrency',
  'refreshReservedConcurrency',
  'publicRouteConcurrencyCap',
  'kmsKey',
  'region',
  'lambdaRuntime',
] as const;

/** Below this, refresh's own runs would throttle each other: a run may last until the next one is due. */
export const MIN_REFRESH_CONCURRENCY = 2;

export type ContextKey = (typeof CONTEXT_KEYS)[number];

/**
 * Context keys that CDK itself writes without a `:`, `/` or `@` (`cdk acknowledge`, `cdk cli-telemetry`).
 * Every other such key is this app's, so an unknown one is a typo.
 */
const CDK_PLAIN_KEYS = new Set(['acknowledged-issue-numbers', 'cli-telemetry']);

/** The operator's settings file, read from the directory `cdk` runs in (next to `cdk.json`). */
export const DEPLOY_CONTEXT_FILE = 'deploy.context.json';

/** Environment variable naming another settings file (e.g. one per stage). */
export const DEPLOY_CONTEXT_FILE_ENV = 'DEPLOY_CONTEXT_FILE';

/** Raised at synth when the context is invalid; `problems` holds one line per invalid key. */
export class StackConfigError extends Error {
  override readonly name = 'StackConfigError';

  constructor(readonly problems: readonly string[]) {
    super(
      `Invalid CDK context (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n')
    );
  }
}

const APPID = /^wx[0-9a-zA-Z]{14,30}$/;
const STAGE = /^[a-z0-9-]{1,20}$/;
const EIP_ALLOCATION = /^eipalloc-[0-9a-f]{8,32}$/;
const EGRESS = /^(?:nat-gateway|nat-instance)$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
/** DynamoDB table names: 3–255 of letters, digits and `_.-`. */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
/** Secrets Manager secret names: 1–512 of letters, digits and `/_+=.@-`. */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CERTIFICATE_ARN =
  /^arn:aws(?:-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/;
const HOSTED_ZONE_ID = /^Z[0-9A-Z]{4,32}$/;
const KMS_KEY =
  /^(?:create|arn:aws(?:-cn|-us-gov)?:kms:[a-z0-9-]+:\d{12}:key\/(?:[0-9a-f-]{36}|mrk-[0-9a-f]{32}))$/;
const ACCOUNT_ID = /^\d{12}$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d$/;
/** Where Lambda's runtime list and features differ (docs/deploy.md, China regions). */
const CHINA_REGIONS = new Set(['cn-north-1', 'cn-northwest-1']);
/** Printable text without markup characters; CJK welcome. */
const DISPLAY_NAME = /^[^\p{Cc}\p{Cf}<>&"']{1,40}$/u;

/**
 * Reads the operator's settings file: a flat JSON object of context keys. A missing file is an empty
 * context (every key may come from `-c` instead); any other problem names the file.
 *
 * @throws StackConfigError when the file is not a JSON object.
 */
export function readDeployContextFile(path: string): Record<string, unknown> {
  const file = resolve(path);
  if (!existsSync(file)) return {};
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new StackConfigError([`${path} is not valid JSON: ${(error as Error).message}`]);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new StackConfigError([`${path} must hold one JSON object of context keys`]);
  }
  return value as Record<string, unknown>;
}

/**
 * Validates the CDK context and returns a typed config.
 *
 * Empty strings count as "not set" (so `-c alarmEmail=` switches a key off), values are trimmed, lists are
 * comma-separated strings (or JSON arrays in the settings file), concurrencies are whole numbers (strings
 * or JSON numbers), and the hostname is lower-cased. Keys holding `:`, `/` or `@` belong to CDK (feature
 * flags, `aws:cdk:*`, lookups) and are not checked; any other key this app does not read is refused, with the
 * nearest known key as a hint.
 *
 * @param context - every context key and value, e.g. `app.node.getAllContext()`
 * @throws StackConfigError listing every unknown, missing or invalid key at once.
 */
export function parseStackConfig(context: Readonly<Record<string, unknown>>): StackConfig {
  const problems: string[] = [];
  const known = new Set<string>(CONTEXT_KEYS);
  for (const key of Object.keys(context)) {
    if (known.has(key) || CDK_PLAIN_KEYS.has(key) || /[:/@]/.test(key)) continue;
    const hint = nearestKey(key);
    problems.push(
      `unknown context key ${JSON.stringify(key)}${hint ? ` (did you mean ${hint}?)` : ''}; ` +
        `this app reads ${CONTEXT_KEYS.join(', ')}`
    );
  }

  const text = (key: ContextKey): string | undefined => {
    const value = context[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      problems.push(`${key} must be a string, got ${typeof value}`);
      return undefined;
    }
    return value.trim() || undefined;
  };
  const check = (
    key: ContextKey,
    value: string | undefined,
    pattern: RegExp,
    expected: string
  ): string | undefined => {
    if (value === undefined || pattern.test(value)) return value;
    problems.push(`${key} must be ${expected}, got ${JSON.stringify(value)}`);
    return undefined;
  };
  const list = (key: ContextKey, pattern: RegExp, expected: string): string[] => {
    const value = context[key];
    let items: unknown[];
    if (value === undefined || value === null) items = [];
    else if (typeof value === 'string') items = value.split(',');
    else if (Array.isArray(value)) items = value;
    else {
      problems.push(`${key} must be a comma-separated string, got ${typeof value}`);
      return [];
    }
    const values = items.map((item) => (typeof item === 'string' ? item.trim() : item));
    const bad = values.filter((v) => v !== '' && (typeof v !== 'string' || !pattern.test(v)));
    if (bad.length > 0) {
      problems.push(
        `${key} must be ${expected}, got ${bad.map((v) => JSON.stringify(v)).join(', ')}`
      );
      return [];
    }
    const present = values.filter((v): v is string => v !== '');
    const repeated = present.filter((v, i) => present.indexOf(v) !== i);
    if (repeated.length > 0) {
      problems.push(`${key} lists ${repeated.map((v) => JSON.stringify(v)).join(', ')} twice`);
      return [];
    }
    return present;
  };
  /** A whole number of concurrent executions, from a string (`-c`) or a JSON number. */
  const concurrency = (key: ContextKey, min: number, why: string): number | undefined => {
    const raw = context[key];
    if (raw === undefined || raw === null) return undefined;
    const value = typeof raw === 'string' ? raw.trim() : raw;
    if (value === '') return undefined;
    const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
      problems.push(
        `${key} must be a whole number of concurrent executions, got ${JSON.stringify(raw)}`
      );
      return undefined;
    }
    if (n < min) {
      problems.push(`${key} must be ${min} or more, got ${n}: ${why}`);
      return undefined;
    }
    return n;
  };
  const flag = (key: ContextKey): boolean => {
    const value = context[key];
    if (value === undefined || value === null || value === '') return false;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    problems.push(`${key} must be true or false, got ${JSON.stringify(value)}`);
    return false;
  };

  const componentAppIdRaw = text('componentAppId');
  if (componentAppIdRaw === undefined && !problems.some((p) => p.startsWith('componentAppId'))) {
    problems.push(
      `componentAppId is required (the third-party platform appid): put it in ${DEPLOY_CONTEXT_FILE} ` +
        'or pass -c componentAppId=wx…'
    );
  }
  const componentAppId = check(
    'componentAppId',
    componentAppIdRaw,
    APPID,
    '"wx" followed by 14-30 letters or digits'
  );
  const stage = check('stage', text('stage'), STAGE, '1-20 of lowercase letters, digits and "-"');
  const natGatewayPerAz = flag('natGatewayPerAz');
  const egress = (check('egress', text('egress'), EGRESS, '"nat-gateway" or "nat-instance"') ??
    'nat-gateway') as EgressKind;
  const natInstanceType = check(
    'natInstanceType',
    text('natInstanceType'),
    INSTANCE_TYPE,
    'an EC2 instance type like t4g.nano'
  );
  if (egress === 'nat-instance' && natGatewayPerAz) {
    problems.push('natGatewayPerAz applies to NAT gateways: egress nat-instance runs one instance');
  }
  if (natInstanceType && egress !== 'nat-instance') {
    problems.push('natInstanceType needs egress nat-instance');
  }
  const egressEipAllocationIds = list(
    'egressEipAllocationIds',
    EIP_ALLOCATION,
    'Elastic IP allocation ids like eipalloc-0123456789abcdef0'
  );
  const natGateways = natGatewayPerAz ? EGRESS_AZ_COUNT : 1;
  if (egressEipAllocationIds.length > 0 && egressEipAllocationIds.length !== natGateways) {
    problems.push(
      `egressEipAllocationIds must list ${natGateways} allocation id${natGateways === 1 ? '' : 's'} ` +
        `(one per NAT gateway${natGatewayPerAz ? ', natGatewayPerAz is true' : ''}), got ` +
        `${egressEipAllocationIds.length}`
    );
  }
  const tokenTableName = check(
    'tokenTableName',
    text('tokenTableName'),
    TABLE_NAME,
    'a DynamoDB table name (3-255 letters, digits and _.-)'
  );
  const secretName = (key: ContextKey) =>
    check(
      key,
      text(key),
      SECRET_NAME,
      'a Secrets Manager secret name (letters, digits and /_+=.@-)'
    );
  const componentSecretName = secretName('componentSecretName');
  const messageSecretName = secretName('messageSecretName');
  const authorizeDomain = check(
    'authorizeDomain',
    text('authorizeDomain'),
    HOSTNAME,
    'a bare hostname like auth.example.com (no scheme, port or path)'
  )?.toLowerCase();
  const authorizeDomainCertificateArn = check(
    'authorizeDomainCertificateArn',
    text('authorizeDomainCertificateArn'),
    CERTIFICATE_ARN,
    'an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>, or arn:aws-cn:…)'
  );
  const hostedZoneId = check(
    'hostedZoneId',
    text('hostedZoneId'),
    HOSTED_ZONE_ID,
    'a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ'
  );
  const hostedZoneName = check(
    'hostedZoneName',
    text('hostedZoneName'),
    HOSTNAME,
    'the hosted zone’s domain name like example.com'
  )?.toLowerCase();
  const disableExecuteApiEndpoint = flag('disableExecuteApiEndpoint');
  if (authorizeDomainCertificateArn && !authorizeDomain) {
    problems.push(
      'authorizeDomainCertificateArn needs authorizeDomain: the certificate is for that host'
    );
  }
  if ((hostedZoneId === undefined) !== (hostedZoneName === undefined)) {
    problems.push('hostedZoneId and hostedZoneName go together: set both, or neither');
  }
  if (hostedZoneId && !authorizeDomainCertificateArn) {
    problems.push(
      'hostedZoneId needs authorizeDomainCertificateArn: the record points at the custom domain'
    );
  }
  if (
    hostedZoneName &&
    authorizeDomain &&
    authorizeDomain !== hostedZoneName &&
    !authorizeDomain.endsWith(`.${hostedZoneName}`)
  ) {
    problems.push(`hostedZoneName: ${authorizeDomain} is not in the zone ${hostedZoneName}`);
  }
  if (disableExecuteApiEndpoint && !authorizeDomainCertificateArn) {
    problems.push(
      'disableExecuteApiEndpoint needs authorizeDomainCertificateArn: without the custom domain the API would be unreachable'
    );
  }
  const alarmEmail = check('alarmEmail', text('alarmEmail'), EMAIL, 'an email address');
  const getTokenCallerAccountIds = list(
    'getTokenCallerAccountIds',
    ACCOUNT_ID,
    'comma-separated 12-digit AWS account ids'
  );
  const callWechatPathPrefixes = list(
    'callWechatPathPrefixes',
    /^(?!.*\/\/)(?!.*\/\.+(?:\/|$))\/[A-Za-z0-9/_.-]{1,100}$/,
    'comma-separated paths such as /cgi-bin/,/wxa/'
  );
  const platformDisplayName = check(
    'platformDisplayName',
    text('platformDisplayName'),
    DISPLAY_NAME,
    '1-40 printable characters without <>&"\''
  );

  const unsetForNone = 'leave it unset for no reservation (0 would refuse every invocation)';
  const getTokenReservedConcurrency = concurrency('getTokenReservedConcurrency', 1, unsetForNone);
  const refreshReservedConcurrency = concurrency(
    'refreshReservedConcurrency',
    MIN_REFRESH_CONCURRENCY,
    `scheduled runs overlap and operators’ CLI calls run in refresh too; ${unsetForNone}`
  );
  const publicRouteConcurrencyCap = concurrency('publicRouteConcurrencyCap', 1, unsetForNone);

  const kmsKey = check(
    'kmsKey',
    text('kmsKey'),
    KMS_KEY,
    '"create" or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)'
  );
  const region = check('region', text('region'), REGION, 'an AWS region like cn-north-1');
  const chinaRegion = region !== undefined && CHINA_REGIONS.has(region);
  if (region?.startsWith('cn-') && !chinaRegion) {
    problems.push(
      `region ${region} is not a China region this stack knows (cn-north-1, cn-northwest-1)`
    );
  }
  const runtimeRaw = text('lambdaRuntime');
  const lambdaRuntime = LAMBDA_RUNTIMES.find((name) => name === runtimeRaw);
  if (runtimeRaw !== undefined && !lambdaRuntime) {
    problems.push(
      `lambdaRuntime must be one of ${LAMBDA_RUNTIMES.join(', ')}, got ${JSON.stringify(runtimeRaw)}`
    );
  } else if (chinaRegion && !lambdaRuntime) {
    problems.push(
      `lambdaRuntime is required in ${region}: AWS's runtime release dates do not apply to the China ` +
        `regions, so name one of ${LAMBDA_RUNTIMES.join(', ')} that Lambda offers there ` +
        '(https://docs.amazonaws.cn/en_us/lambda/latest/dg/lambda-runtimes.html)'
    );
  }

  if (problems.length > 0) throw new StackConfigError(problems);
  return {
    componentAppId: componentAppId!,
    stage: stage ?? 'prod',
    natGatewayPerAz,
    egress,
    natInstanceType,
    egressEipAllocationIds,
    tokenTableName,
    componentSecretName,
    messageSecretName,
    authorizeDomain,
    authorizeDomainCertificateArn,
    hostedZoneId,
    hostedZoneName,
    disableExecuteApiEndpoint,
    alarmEmail,
    getTokenCallerAccountIds,
    callWechatPathPrefixes,
    platformDisplayName,
    getTokenReservedConcurrency,
    refreshReservedConcurrency,
    publicRouteConcurrencyCap,
    kmsKey,
    region,
    chinaRegion,
    lambdaRuntime: lambdaRuntime ?? 'nodejs24.x',
  };
}

/** The known key a typo most likely meant: same letters ignoring case and separators, or ≤ 2 edits. */
function nearestKey(key: string): string | undefined {
  const fold = (k: string) => k.toLowerCase().replace(/[-_.\s]/g, '');
  const exact = CONTEXT_KEYS.find((k) => fold(k) === fold(key));
  if (exact) return exact;
  let best: { key: string; distance: number } | undefined;
  for (const candidate of CONTEXT_KEYS) {
    const distance = editDistance(fold(candidate), fold(key));
    if (distance <= 2 && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}
