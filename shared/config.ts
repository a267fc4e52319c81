import { ConfigError } from './errors';

/**
 * Runtime configuration of every Lambda, read from the environment that `infra/` sets. Secrets are not
 * here: they live in Secrets Manager (see `shared/secrets.ts`).
 */
export interface RuntimeConfig {
  /** DynamoDB table holding tickets, tokens, authorizers and auth codes. */
  readonly tokenTableName: string;
  /** The third-party platform's appid (component_appid). */
  readonly componentAppId: string;
  /** ARN or name of the Secrets Manager secret with the AppSecret JSON (`shared/secrets.ts`). */
  readonly componentSecretId: string;
  /**
   * ARN or name of the secret with the message token and EncodingAESKey; set only for the function that
   * decrypts pushes (least privilege: the others cannot read it).
   */
  readonly messageSecretId?: string;
  /** WeChat API origin; the sandbox and tests point it at a simulator. */
  readonly wechatApiBaseUrl: string;
  /** Optional DynamoDB endpoint (the sandbox's dynalite); unset in AWS. */
  readonly dynamoDbEndpoint?: string;
  /** Optional fixed redirect URI for authorization links; derived from the request when unset. */
  readonly authorizeRedirectUri?: string;
  /**
   * Origin serving WeChat's authorization pages (`mp.weixin.qq.com` / `open.weixin.qq.com` when unset);
   * the sandbox points it at its simulator.
   */
  readonly wechatAuthorizePageBaseUrl?: string;
  /** The NAT's Elastic IP, when known, to tell a missing whitelist entry from egress drift on 61004. */
  readonly egressIp?: string;
  /**
   * The EventBridge bus lifecycle events are published on (`EVENT_BUS_NAME`), set for the functions that
   * change authorizers; unset: no events are recorded (`shared/events/outbox.ts`).
   */
  readonly eventBusName?: string;
  /**
   * The refresh function (`REFRESH_FUNCTION_NAME`), set for the message intake: it starts the release
   * check's customer-service answer there, asynchronously, so that WeChat gets its empty answer at once.
   */
  readonly refreshFunctionName?: string;
  /** The platform's name as merchants know it, on the authorization pages (`PLATFORM_DISPLAY_NAME`). */
  readonly platformDisplayName?: string;
  /**
   * WeChat calls each public page route may spend per minute and per day (`PUBLIC_ROUTE_BUDGET_PER_MINUTE`,
   * `PUBLIC_ROUTE_BUDGET_PER_DAY`); unset: the defaults in `shared/policy.ts`.
   */
  readonly publicRouteBudgetPerMinute?: number;
  readonly publicRouteBudgetPerDay?: number;
  /**
   * The path prefixes call-wechat lets callers reach (`CALL_WECHAT_PATH_PREFIXES`, comma-separated);
   * unset: `DEFAULT_ALLOWED_PREFIXES` of `shared/egress/wechat-call-request.ts`. The credential endpoints
   * stay refused whatever this says.
   */
  readonly callWechatPathPrefixes?: readonly string[];
}

/** Variables every function needs; the infra test checks each function's environment against this list. */
export const REQUIRED_ENV = ['TOKEN_TABLE_NAME', 'COMPONENT_APPID', 'COMPONENT_SECRET_ID'] as const;

/**
 * Optional variables only the authorization page functions read: the platform's display name and the
 * public routes' WeChat budgets. The stack sets them on those two functions; the sandbox passes them through.
 */
export const PAGE_ENV = [
  'PLATFORM_DISPLAY_NAME',
  'PUBLIC_ROUTE_BUDGET_PER_MINUTE',
  'PUBLIC_ROUTE_BUDGET_PER_DAY',
] as const;

export const DEFAULT_WECHAT_API_BASE_URL = 'https://api.weixin.qq.com';
/** A plain path: letters, digits, `/ _ . -`, no empty or dot-only segment (the request parser's rules). */
const PATH_PREFIX = /^(?!.*\/\/)(?!.*\/\.+(?:\/|$))\/[A-Za-z0-9/_.-]{1,100}$/;

const APPID = /^wx[0-9a-zA-Z]{14,30}$/;
/** What infra accepts for `platformDisplayName`: 1–40 characters, no control characters. */
const DISPLAY_NAME = /^[^\p{Cc}]{1,40}$/u;

/** True for strings shaped like a WeChat appid (`wx` + alphanumerics). */
export function isAppId(value: unknown): value is string {
  return typeof value === 'string' && APPID.test(value);
}

/**
 * Reads and validates the runtime configuration.
 *
 * @throws ConfigError naming every missing or invalid variable at once.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): RuntimeConfig {
  const problems: string[] = [];
  for (const name of REQUIRED_ENV) {
    if (!env[name]?.trim()) problems.push(`${name} is required`);
  }
  const componentAppId = env.COMPONENT_APPID?.trim() ?? '';
  if (componentAppId && !isAppId(componentAppId)) {
    problems.push('COMPONENT_APPID must look like wx followed by letters and digits');
  }
  const wechatApiBaseUrl = (env.WECHAT_API_BASE_URL?.trim() || DEFAULT_WECHAT_API_BASE_URL).replace(
    /\/+$/,
    ''
  );
  if (!/^https?:\/\/[^/]+$/.test(wechatApiBaseUrl)) {
    problems.push('WECHAT_API_BASE_URL must be an http(s) origin without a path');
  }
  const redirect = env.AUTHORIZE_REDIRECT_URI?.trim();
  if (redirect && !/^https?:\/\/[^/]+\/\S*$/.test(redirect)) {
    problems.push('AUTHORIZE_REDIRECT_URI must be an absolute http(s) URL');
  }
  const pageBase = env.WECHAT_AUTHORIZE_PAGE_BASE_URL?.trim().replace(/\/+$/, '');
  if (pageBase && !/^https?:\/\/[^/]+$/.test(pageBase)) {
    problems.push('WECHAT_AUTHORIZE_PAGE_BASE_URL must be an http(s) origin without a path');
  }
  const displayName = env.PLATFORM_DISPLAY_NAME?.trim();
  if (displayName && !DISPLAY_NAME.test(displayName)) {
    problems.push('PLATFORM_DISPLAY_NAME must be 1-40 characters without control characters');
  }
  const perMinute = positiveInteger(env, 'PUBLIC_ROUTE_BUDGET_PER_MINUTE', 1000, problems);
  const perDay = positiveInteger(env, 'PUBLIC_ROUTE_BUDGET_PER_DAY', 100_000, problems);
  const prefixes = env.CALL_WECHAT_PATH_PREFIXES?.split(',')
    .map((prefix) => prefix.trim())
    .filter(Boolean);
  if (prefixes?.some((prefix) => !PATH_PREFIX.test(prefix))) {
    problems.push(
      'CALL_WECHAT_PATH_PREFIXES must be comma-separated paths such as /cgi-bin/,/wxa/ (letters, digits, / _ . -)'
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    tokenTableName: env.TOKEN_TABLE_NAME!.trim(),
    componentAppId,
    componentSecretId: env.COMPONENT_SECRET_ID!.trim(),
    messageSecretId: env.MESSAGE_SECRET_ID?.trim() || undefined,
    wechatApiBaseUrl,
    dynamoDbEndpoint: env.DYNAMODB_ENDPOINT?.trim() || undefined,
    authorizeRedirectUri: redirect || undefined,
    wechatAuthorizePageBaseUrl: pageBase || undefined,
    egressIp: env.EGRESS_IP?.trim() || undefined,
    eventBusName: env.EVENT_BUS_NAME?.trim() || undefined,
    refreshFunctionName: env.REFRESH_FUNCTION_NAME?.trim() || undefined,
    platformDisplayName: displayName || undefined,
    publicRouteBudgetPerMinute: perMinute,
    publicRouteBudgetPerDay: perDay,
    ...(prefixes?.length ? { callWechatPathPrefixes: prefixes } : {}),
  };
}

/** An optional whole number from 1 to `max`; a problem is recorded when it is set to anything else. */
function positiveInteger(
  env: Record<string, string | undefined>,
  name: string,
  max: number,
  problems: string[]
): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = /^\d{1,7}$/.test(raw) ? Number(raw) : Number.NaN;
  if (value >= 1 && value <= max) return value;
  problems.push(`${name} must be a whole number from 1 to ${max}`);
  return undefined;
}
