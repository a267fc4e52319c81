import { randomBytes } from 'node:crypto';

/**
 * The simulator's errcodes with WeChat's real errmsg prefixes and ` rid: …` suffix (wechat-protocol.md §3 and
 * the fixtures). Handlers throw {@link ApiFailure}; the server turns it into `{errcode, errmsg}`.
 */

/** Real errmsg prefixes (wechat-protocol.md §3 and the fixtures). */
const ERRMSG: Readonly<Record<number, string>> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40008: 'invalid message type',
  40013: 'invalid appid',
  40014: 'invalid access_token',
  40029: 'invalid code',
  40097: 'invalid args',
  40125: 'invalid appsecret',
  // getUnlimitedQRCode's page and the real answers quoted on the community (caller-api.ts).
  40129: 'invalid scene',
  40163: 'code been used',
  40169: 'invalid length for scene, or the data is not json string',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  41009: 'missing openid',
  41030: 'invalid page',
  42001: 'access_token expired',
  43001: 'require GET method',
  43002: 'require POST method',
  44002: 'empty post data',
  44004: 'empty content',
  45009: 'reach max api daily quota limit',
  45015: 'response out of time limit or subscription is canceled',
  47001: 'data format error',
  48001: 'api unauthorized',
  48006: 'forbid to clear quota because of reaching the limit',
  50002: 'user limited',
  61003: 'component is not authorized by this account',
  61004: 'access clientip is not registered',
  61005: 'component ticket is expired',
  61006: 'component ticket is invalid',
  61007: 'api is unauthorized to component',
  61009: 'code is invalid',
  61010: 'code is expired',
  61011: 'invalid component',
  61014: 'must use component token for component api',
  61023: 'refresh_token is invalid',
  // getApiQuota's page (wechat-protocol.md [S23]); it gives no errmsg for 76003.
  76021: 'cgi_path not found, please check',
  76022: 'could not use this cgi_path,no permission',
};

/**
 * An API answer with an errcode, thrown by the state and the handlers; `detail` goes into the errmsg as
 * `(simulator: …)`, for codes whose real errmsg no source gives.
 */
export class ApiFailure extends Error {
  constructor(
    readonly errcode: number,
    readonly detail?: string,
    /** The `requestIP` a whitelist refusal reports, when not the simulator's `egressIp`. */
    readonly requestIp?: string
  ) {
    super(`errcode ${errcode}`);
  }
}

export function fail(errcode: number, detail?: string): never {
  throw new ApiFailure(errcode, detail);
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** WeChat's request id: the clock's epoch seconds in hex, then two random parts. */
export function rid(now: number): string {
  return `${Math.floor(now / 1000)
    .toString(16)
    .padStart(8, '0')}-${hex(4)}-${hex(4)}`;
}

/**
 * The errmsg WeChat sends with `errcode`: prefix, the egress IP for the whitelist errors, ` rid: …`, and
 * an optional `(simulator: detail)` before the rid for answers only the simulator gives.
 */
export function errmsg(
  errcode: number,
  context: { now: number; egressIp: string; detail?: string }
): string {
  const ip = context.egressIp;
  let prefix = ERRMSG[errcode] ?? `simulated error ${errcode}`;
  if (errcode === 61004) prefix = `${prefix} requestIP: ${ip}`;
  if (errcode === 40164) prefix = `invalid ip ${ip} ipv6 ::ffff:${ip}, not in whitelist`;
  const detail = context.detail ? ` (simulator: ${context.detail})` : '';
  return `${prefix}${detail} rid: ${rid(context.now)}`;
}
