/**
 * Deploy-time configuration: the CDK context keys (`-c key=value` or `cdk.json` `context`) turned into a
 * typed, validated {@link StackConfig}. Every problem is collected and reported in one error, so a deployer
 * fixes the command line once instead of once per key.
 */

/** Validated deploy-time configuration of one token-service stack. */
export interface StackConfig {
  /** The third-party platform's appid (component_appid, 第三方平台 appid). */
  readonly componentAppId: string;
  /**
   * Deployment name; part of the stack name and resource names, so several stages can share an account.
   * @default 'prod'
   */
  readonly stage: string;
  /**
   * Allocation id of an existing Elastic IP for the NAT gateway, so the egress IP already on WeChat's
   * whitelist survives a rebuilt stack.
   * @default - a new Elastic IP is created and retained when the stack is deleted
   */
  readonly egressEipAllocationId?: string;
  /**
   * Name of an existing Secrets Manager secret holding the component secret JSON.
   * @default - a new secret is created with an empty JSON skeleton, to be filled after deploy
   */
  readonly componentSecretName?: string;
  /**
   * Hostname that the deployer maps to the HTTP API as a custom domain (done outside this stack) and registers
   * as the 授权发起页域名. The authorization functions then build `redirect_uri` on it.
   * @default - URLs use the HTTP API's execute-api endpoint
   */
  readonly authorizeDomain?: string;
  /**
   * Email address subscribed to an SNS topic that receives every alarm.
   * @default - alarms are created without actions
   */
  readonly alarmEmail?: string;
}

/** The context keys {@link parseStackConfig} reads. */
export const CONTEXT_KEYS = [
  'componentAppId',
  'stage',
  'egressEipAllocationId',
  'componentSecretName',
  'authorizeDomain',
  'alarmEmail',
] as const;

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
const EIP_ALLOCATION = /^eipalloc-[0-9a-f]+$/;
/** Secrets Manager secret names: 1–512 of letters, digits and `/_+=.@-`. */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Validates the CDK context and returns a typed config.
 *
 * Empty strings count as "not set" (so `-c alarmEmail=` switches a key off), values are trimmed, and the
 * hostname is lower-cased.
 *
 * @param read - returns the raw context value for a key, e.g. `(k) => app.node.tryGetContext(k)`
 * @throws StackConfigError listing every missing or invalid key at once.
 */
export function parseStackConfig(read: (key: string) => unknown): StackConfig {
  const problems: string[] = [];

  const text = (key: (typeof CONTEXT_KEYS)[number]): string | undefined => {
    const value = read(key);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      problems.push(`${key} must be a string, got ${typeof value}`);
      return undefined;
    }
    return value.trim() || undefined;
  };
  const check = (
    key: (typeof CONTEXT_KEYS)[number],
    value: string | undefined,
    pattern: RegExp,
    expected: string
  ): string | undefined => {
    if (value === undefined || pattern.test(value)) return value;
    problems.push(`${key} must be ${expected}, got ${JSON.stringify(value)}`);
    return undefined;
  };

  const componentAppIdRaw = text('componentAppId');
  if (componentAppIdRaw === undefined && !problems.some((p) => p.startsWith('componentAppId'))) {
    problems.push(
      'componentAppId is required: pass -c componentAppId=wx… (the third-party platform appid)'
    );
  }
  const componentAppId = check(
    'componentAppId',
    componentAppIdRaw,
    APPID,
    '"wx" followed by 14-30 letters or digits'
  );
  const stage = check('stage', text('stage'), STAGE, '1-20 of lowercase letters, digits and "-"');
  const egressEipAllocationId = check(
    'egressEipAllocationId',
    text('egressEipAllocationId'),
    EIP_ALLOCATION,
    'an Elastic IP allocation id like eipalloc-0123456789abcdef0'
  );
  const componentSecretName = check(
    'componentSecretName',
    text('componentSecretName'),
    SECRET_NAME,
    'a Secrets Manager secret name (letters, digits and /_+=.@-)'
  );
  const authorizeDomain = check(
    'authorizeDomain',
    text('authorizeDomain'),
    HOSTNAME,
    'a bare hostname like auth.example.com (no scheme, port or path)'
  )?.toLowerCase();
  const alarmEmail = check('alarmEmail', text('alarmEmail'), EMAIL, 'an email address');

  if (problems.length > 0) throw new StackConfigError(problems);
  return {
    componentAppId: componentAppId!,
    stage: stage ?? 'prod',
    egressEipAllocationId,
    componentSecretName,
    authorizeDomain,
    alarmEmail,
  };
}
