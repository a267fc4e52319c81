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
  /** ARN or name of the Secrets Manager secret with the component secret JSON. */
  readonly componentSecretId: string;
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
}

/** Variables every function needs; the infra test checks each function's environment against this list. */
export const REQUIRED_ENV = ['TOKEN_TABLE_NAME', 'COMPONENT_APPID', 'COMPONENT_SECRET_ID'] as const;

export const DEFAULT_WECHAT_API_BASE_URL = 'https://api.weixin.qq.com';

const APPID = /^wx[0-9a-zA-Z]{14,30}$/;

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
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    tokenTableName: env.TOKEN_TABLE_NAME!.trim(),
    componentAppId,
    componentSecretId: env.COMPONENT_SECRET_ID!.trim(),
    wechatApiBaseUrl,
    dynamoDbEndpoint: env.DYNAMODB_ENDPOINT?.trim() || undefined,
    authorizeRedirectUri: redirect || undefined,
    wechatAuthorizePageBaseUrl: pageBase || undefined,
    egressIp: env.EGRESS_IP?.trim() || undefined,
  };
}
