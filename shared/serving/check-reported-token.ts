import { WechatApiError } from '../errors';
import type { AuthorizerRecord } from '../store/token-store';
import type { TokenContext } from '../token-context';

/**
 * The API an authorizer token is checked on: getApiQuota for itself, which every authorizer token may call
 * and which spends no scarce quota (see {@link checkReportedToken}).
 */
export const AUTHORIZER_PROBE_PATH = '/cgi-bin/openapi/quota/get';

/** What one call made with a reported token says about it. */
export type TokenVerdict = 'alive' | 'dead' | 'unknown';

/**
 * Asks WeChat whether it still accepts a token a caller reported as rejected, with one call made with that
 * token (getApiQuota: documented for component tokens and for authorizer tokens of official accounts and
 * mini programs alike, and it spends no refresh quota). 40001, 42001 or 40014 prove the token dead; any
 * other answer proves it alive, since WeChat checks the token before the request. No answer, -1 or a
 * whitelist refusal (checked before the token) prove nothing (architecture §7).
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/openApi/get_api_quota.html
 */
export async function checkReportedToken(
  ctx: TokenContext,
  accessToken: string,
  cgiPath: string
): Promise<TokenVerdict> {
  try {
    await ctx.api.getApiQuota(accessToken, cgiPath);
    return 'alive';
  } catch (error) {
    if (!(error instanceof WechatApiError)) return 'unknown';
    if (error.kind === 'token_invalid') return 'dead';
    if (error.kind === 'busy' || error.kind === 'ip_not_whitelisted') return 'unknown';
    return 'alive';
  }
}

/**
 * Whether the stored token of an authorizer WeChat now shows with another refresh token may still be
 * accepted: the record holds one within its promise and one call made with it does not prove it dead. A
 * re-authorization kills the tokens (protocol §7.3), but a permission change may keep them (§11.12), and
 * neither the list nor `api_get_authorizer_info` tells the two apart once the refresh token was also rotated
 * for another reason. Dropping a live token would end callers' promises for nothing; a dead one kept is
 * reported by the first caller it fails and renewed then.
 */
export async function storedTokenMayLive(
  ctx: TokenContext,
  record: AuthorizerRecord | undefined
): Promise<boolean> {
  if (!record?.accessToken || (record.expiresAt ?? 0) <= ctx.clock()) return false;
  return (await checkReportedToken(ctx, record.accessToken, AUTHORIZER_PROBE_PATH)) !== 'dead';
}
