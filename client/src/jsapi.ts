import { createHash, randomInt } from 'node:crypto';

/**
 * What a page passes to the JS-SDK's `wx.config` (with `debug` and `jsApiList` of its own).
 * @see https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/JS-SDK.html
 */
export interface JsapiConfig {
  appId: string;
  /** Seconds since 1970-01-01T00:00:00Z. */
  timestamp: number;
  nonceStr: string;
  /** SHA-1, lowercase hex. */
  signature: string;
}

/** What `jsapiConfig` lets a caller fix instead of drawing (tests, a page that signs its own nonce). */
export interface JsapiConfigOptions {
  /** @default 32 random letters and digits */
  nonceStr?: string;
  /** Seconds. @default now, by the client's clock */
  timestamp?: number;
}

/**
 * The JS-SDK signature: SHA-1 (lowercase hex) of `jsapi_ticket=…&noncestr=…&timestamp=…&url=…`, the keys in
 * that (alphabetical) order and the values raw, not URL-escaped. `url` is the page's full URL without its
 * `#` fragment; this function signs it as given.
 * @see https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/JS-SDK.html (appendix 1)
 */
export function jsapiSignature(input: {
  jsapiTicket: string;
  nonceStr: string;
  timestamp: number;
  url: string;
}): string {
  const { jsapiTicket, nonceStr, timestamp, url } = input;
  const plain = `jsapi_ticket=${jsapiTicket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`;
  return createHash('sha1').update(plain, 'utf8').digest('hex');
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` letters and digits from the system's CSPRNG. */
export function randomNonce(length = 32): string {
  let nonce = '';
  for (let i = 0; i < length; i++) nonce += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return nonce;
}

/** `url` without its `#…` fragment, which WeChat leaves out of what it signs. */
export function withoutFragment(url: string): string {
  const hash = url.indexOf('#');
  return hash === -1 ? url : url.slice(0, hash);
}
