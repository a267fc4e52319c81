import type { WechatErrorKind } from '../errors';

/**
 * The one table from WeChat `errcode` to what it means for us. Matched as numbers, never by `errmsg`
 * (which carries ` rid: …` / ` hint: […]` suffixes).
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Return_codes/Return_code_descriptions_new.html
 * @see ../../docs/wechat-protocol.md §3
 */
const KINDS: Readonly<Record<number, WechatErrorKind>> = {
  [-1]: 'busy',
  40001: 'token_invalid',
  40014: 'token_invalid',
  42001: 'token_invalid',
  61004: 'ip_not_whitelisted',
  40164: 'ip_not_whitelisted',
  45009: 'quota',
  61005: 'ticket_invalid',
  61006: 'ticket_invalid',
  61023: 'refresh_token_invalid',
  // "component is not authorized by this account": after a revocation refreshing answers this, not only
  // 61023 (protocol §11.4); a verdict needs WeChat's confirmation (api_get_authorizer_info / the list).
  61003: 'not_authorized',
  61009: 'auth_code_invalid',
  61010: 'auth_code_invalid',
  40013: 'credentials_invalid',
  40125: 'credentials_invalid',
  41002: 'credentials_invalid',
  41004: 'credentials_invalid',
  61011: 'credentials_invalid',
};

/** The kind of a WeChat errcode; `unknown` for codes we do not act on specially. */
export function errorKind(errcode: number): WechatErrorKind {
  return KINDS[errcode] ?? 'unknown';
}

/**
 * Kinds that mean the whole platform is misconfigured (egress IP not whitelisted, wrong appid/secret), so a
 * scheduled run must fail loudly instead of logging per item.
 */
export function isSystemic(kind: WechatErrorKind): boolean {
  return kind === 'ip_not_whitelisted' || kind === 'credentials_invalid';
}

/**
 * The egress IP WeChat reports in a whitelist error, e.g.
 * `access clientip is not registered requestIP: 1.2.3.4 rid: …` or `invalid ip 1.2.3.4 ipv6 ::ffff:…`.
 */
export function parseRequestIp(errmsg: string): string | undefined {
  const match =
    /requestIP:\s*([0-9a-fA-F:.]+)/.exec(errmsg) ?? /invalid ip\s+([0-9a-fA-F:.]+)/.exec(errmsg);
  return match?.[1];
}
