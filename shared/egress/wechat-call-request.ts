import { isAppId } from '../config';
import { InvalidRequestError, PayloadTooLargeError } from '../errors';

/**
 * The request a caller sends to call-wechat: one WeChat API call that we make through our whitelisted
 * egress, with the token added by us (代调用接口: the platform calls an authorizer's APIs on its behalf).
 * This module only parses and validates it; it is pure (no I/O, no clock).
 *
 * The wire format, a JSON object whose unknown keys are refused:
 *
 * ```json
 * {"authorizerAppId":"wx…","method":"POST","path":"/cgi-bin/message/custom/send","query":{},"body":{…}}
 * {"component":true,"tokenParam":"access_token","path":"/cgi-bin/component/…","query":{…}}
 * {"authorizerAppId":"wx…","path":"/cgi-bin/media/upload","query":{"type":"image"},
 *  "bodyBase64":"…","contentType":"multipart/form-data; boundary=…"}
 * ```
 *
 * Exactly one of `authorizerAppId` and `component: true`; `tokenParam` only with `component` (default
 * `component_access_token`; an authorizer's token always goes in `access_token`); `body` (a JSON object) or
 * `bodyBase64` with `contentType`, only with POST; `method` defaults to POST with a body, GET without.
 *
 * The function is open to every caller with invoke permission, so the parser is strict: a path is a plain
 * ASCII path under an allowed prefix and never one of the endpoints that mint or manage credentials, the
 * caller never sets the token parameter, and no message echoes a path, a query value or the body (any of
 * them may carry a secret).
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/api_authorizer_token.html
 * @see https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (6 MB invoke payload)
 */

/** A validated call-wechat request, ready for the use case to add the token and send. */
export type WechatCallRequest = {
  /** Whose token is added: an authorizer's access token, or the platform's component token. */
  target: { authorizerAppId: string } | { component: true };
  method: 'GET' | 'POST';
  /** A path on the WeChat API origin, e.g. `/cgi-bin/message/custom/send`, exactly as the caller sent it. */
  path: string;
  /** Query parameters other than the token, values as strings. */
  query: Record<string, string>;
  /** A JSON body, or an upload (multipart) as base64 with its content type; only with POST. */
  body?: { json: unknown } | { base64: string; contentType: string };
  /** The query parameter the token goes in. */
  tokenParam: 'access_token' | 'component_access_token';
};

/** What the parser needs to know about the deployment. */
export type WechatCallRequestOptions = {
  /** Our component appid: a `component_appid` the caller sends must be this one. */
  componentAppId: string;
  /** Path prefixes callers may call; replaces `DEFAULT_ALLOWED_PREFIXES` (the deny list still applies). */
  allowedPrefixes?: readonly string[];
};

/**
 * The largest request accepted, measured on its JSON in UTF-8 (an upload's decoded bytes, three quarters
 * of its base64, are bounded by it too): Lambda refuses an invoke payload over 6 MB, and the margin leaves
 * room for what the handler adds.
 */
export const MAX_CALL_PAYLOAD_BYTES = 5.5 * 1024 * 1024;
export const MAX_PATH_LENGTH = 256;
export const MAX_QUERY_KEYS = 50;
export const MAX_QUERY_VALUE_LENGTH = 2048;
export const MAX_CONTENT_TYPE_LENGTH = 200;

/** The API families a third-party platform calls with an authorizer's or its own token. */
export const DEFAULT_ALLOWED_PREFIXES: readonly string[] = [
  '/cgi-bin/',
  '/wxa/',
  '/sns/component/',
  '/sns/oauth2/component/',
  '/datacube/',
  '/card/',
];

/**
 * Never callable, whatever the configuration: they mint, reveal or manage credentials and quotas that are
 * the service's alone (`api_component_token`, `api_authorizer_token`, `api_query_auth`, the AppSecret
 * token, JS-SDK tickets, quota resets). Matched case-insensitively as prefixes, so anything under them
 * (`/cgi-bin/clear_quota/v2`) and lookalikes (`/cgi-bin/token2`) are refused too; no legitimate API
 * starts with one of them.
 */
export const DENIED_PATH_PREFIXES: readonly string[] = [
  '/cgi-bin/component/api_',
  '/cgi-bin/token',
  '/cgi-bin/stable_token',
  '/cgi-bin/ticket/getticket',
  '/cgi-bin/clear_quota',
  '/cgi-bin/component/clear_quota',
];

const ALLOWED_KEYS = new Set([
  'authorizerAppId',
  'component',
  'tokenParam',
  'method',
  'path',
  'query',
  'body',
  'bodyBase64',
  'contentType',
]);
const TOKEN_PARAMS = new Set(['access_token', 'component_access_token']);
const PATH_CHARS = /^[A-Za-z0-9/_.-]+$/;
const QUERY_KEY = /^[A-Za-z0-9_]{1,64}$/;
const CONTROL = /\p{Cc}/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** RFC 9110 §5.6.2 `token`. */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
/** `type/subtype` then `; name=value` parameters, the value a token or a quoted string (RFC 9110 §8.3.1). */
const MIME = new RegExp(
  `^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*"))*$`
);

type Fields = Record<string, unknown>;

/**
 * Parses and validates a call-wechat event. Strict like `parseGetTokenRequest`: unknown keys, wrong types
 * and ambiguous combinations are refused, never guessed at. See `WechatCallRequest` for the result and the
 * module comment for the wire format and rules.
 *
 * @throws PayloadTooLargeError when the request's JSON, in UTF-8, is over `MAX_CALL_PAYLOAD_BYTES`.
 * @throws InvalidRequestError for anything else not acceptable; the message names the field and the rule,
 *   never a value.
 */
export function parseWechatCallRequest(
  event: unknown,
  options: WechatCallRequestOptions
): WechatCallRequest {
  if (!event || typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidRequestError('the request must be a JSON object');
  }
  checkSize(event);
  const fields = event as Fields;
  const unknown = Object.keys(fields).filter((key) => !ALLOWED_KEYS.has(key));
  if (unknown.length) {
    throw new InvalidRequestError(
      `unknown field(s): ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`
    );
  }
  const { target, tokenParam } = parseTarget(fields);
  const body = parseBody(fields);
  const method = parseMethod(fields.method, body !== undefined);
  const path = parsePath(fields.path, options.allowedPrefixes ?? DEFAULT_ALLOWED_PREFIXES);
  const query = parseQuery(fields.query);
  checkComponentAppId(query, body, options.componentAppId);
  return { target, method, path, query, ...(body ? { body } : {}), tokenParam };
}

function checkSize(event: object): void {
  let json: string | undefined;
  try {
    json = JSON.stringify(event);
  } catch {
    throw new InvalidRequestError('the request must be plain JSON');
  }
  if (json === undefined) throw new InvalidRequestError('the request must be plain JSON');
  // UTF-8 takes at least one byte a UTF-16 unit: skip the count when the string is already too long.
  if (json.length > MAX_CALL_PAYLOAD_BYTES || Buffer.byteLength(json) > MAX_CALL_PAYLOAD_BYTES) {
    throw new PayloadTooLargeError(
      `the request is larger than ${MAX_CALL_PAYLOAD_BYTES} bytes (Lambda refuses invokes over 6 MB)`
    );
  }
}

function parseTarget(fields: Fields): Pick<WechatCallRequest, 'target' | 'tokenParam'> {
  const tokenParam = fields.tokenParam;
  if ('component' in fields) {
    if (fields.component !== true) throw new InvalidRequestError('component must be true');
    if ('authorizerAppId' in fields) {
      throw new InvalidRequestError('send either authorizerAppId or component, not both');
    }
    if (tokenParam !== undefined && !TOKEN_PARAMS.has(tokenParam as string)) {
      throw new InvalidRequestError('tokenParam must be access_token or component_access_token');
    }
    return {
      target: { component: true },
      tokenParam:
        (tokenParam as WechatCallRequest['tokenParam'] | undefined) ?? 'component_access_token',
    };
  }
  if (!('authorizerAppId' in fields)) {
    throw new InvalidRequestError('send authorizerAppId (an authorizer) or component: true');
  }
  if (!isAppId(fields.authorizerAppId)) {
    throw new InvalidRequestError(
      'authorizerAppId must be an appid (wx followed by letters and digits)'
    );
  }
  if ('tokenParam' in fields) {
    throw new InvalidRequestError(
      "tokenParam is only for component calls: an authorizer's token always goes in access_token"
    );
  }
  return { target: { authorizerAppId: fields.authorizerAppId }, tokenParam: 'access_token' };
}

function parseMethod(method: unknown, hasBody: boolean): WechatCallRequest['method'] {
  if (method === undefined) return hasBody ? 'POST' : 'GET';
  if (method !== 'GET' && method !== 'POST') {
    throw new InvalidRequestError('method must be GET or POST');
  }
  if (method === 'GET' && hasBody) throw new InvalidRequestError('a body is only sent with POST');
  return method;
}

function parseBody(fields: Fields): WechatCallRequest['body'] {
  const hasJson = 'body' in fields;
  const hasUpload = 'bodyBase64' in fields || 'contentType' in fields;
  if (hasJson && hasUpload) {
    throw new InvalidRequestError(
      'send either body (JSON) or bodyBase64 with contentType, not both'
    );
  }
  if (hasJson) {
    const json = fields.body;
    if (!json || typeof json !== 'object' || Array.isArray(json)) {
      throw new InvalidRequestError('body must be a JSON object');
    }
    return { json };
  }
  if (!hasUpload) return undefined;
  const { bodyBase64: base64, contentType } = fields;
  if (typeof base64 !== 'string' || typeof contentType !== 'string') {
    throw new InvalidRequestError('an upload needs both bodyBase64 and contentType, as strings');
  }
  if (!base64 || !BASE64.test(base64)) {
    throw new InvalidRequestError(
      'bodyBase64 must be non-empty standard base64 (padded, no spaces)'
    );
  }
  // No size check of its own: the upload decodes to three quarters of its base64, which the request's
  // limit (checkSize) already bounds. Canonical form only: a last character with unused bits set would
  // decode to the same bytes as another text.
  if (Buffer.from(base64, 'base64').toString('base64') !== base64) {
    throw new InvalidRequestError('bodyBase64 must be canonical base64');
  }
  parseContentType(contentType);
  return { base64, contentType };
}

function parseContentType(contentType: string): void {
  if (contentType.length > MAX_CONTENT_TYPE_LENGTH || !MIME.test(contentType)) {
    throw new InvalidRequestError(
      `contentType must be a MIME type such as multipart/form-data; boundary=…, at most ${MAX_CONTENT_TYPE_LENGTH} characters`
    );
  }
  const lower = contentType.toLowerCase();
  if (lower.startsWith('multipart/') && !/;[ \t]*boundary=/.test(lower)) {
    throw new InvalidRequestError('a multipart contentType must name its boundary');
  }
}

/**
 * A plain path: no scheme, host, query, fragment, encoding or dot segment can reach WeChat, so what is
 * checked here is what is called.
 */
function parsePath(path: unknown, allowedPrefixes: readonly string[]): string {
  if (typeof path !== 'string' || !path) {
    throw new InvalidRequestError('path is required, e.g. /cgi-bin/message/custom/send');
  }
  if (path.length > MAX_PATH_LENGTH) {
    throw new InvalidRequestError(`path is longer than ${MAX_PATH_LENGTH} characters`);
  }
  if (!path.startsWith('/')) {
    throw new InvalidRequestError('path must start with / (a path on the WeChat API, not a URL)');
  }
  if (path.includes('%')) throw new InvalidRequestError('path must not be percent-encoded');
  if (path.includes('?')) {
    throw new InvalidRequestError('path must not carry a query: send the parameters in query');
  }
  if (path.includes('#')) throw new InvalidRequestError('path must not carry a fragment (#)');
  if (!PATH_CHARS.test(path)) {
    throw new InvalidRequestError('path may contain only ASCII letters, digits, /, _, . and -');
  }
  if (path.includes('//')) throw new InvalidRequestError('path must not contain //');
  if (path.split('/').some((segment) => /^\.+$/.test(segment))) {
    throw new InvalidRequestError('path must not contain . or .. segments');
  }
  const lower = path.toLowerCase();
  if (DENIED_PATH_PREFIXES.some((denied) => lower.startsWith(denied))) {
    throw new InvalidRequestError(
      'path names an API that mints or manages credentials; only the token service calls it'
    );
  }
  if (!allowedPrefixes.some((prefix) => path.startsWith(prefix) && path.length > prefix.length)) {
    throw new InvalidRequestError(
      `path must name an API under one of ${allowedPrefixes.join(', ')}`
    );
  }
  return path;
}

function parseQuery(query: unknown): Record<string, string> {
  if (query === undefined) return {};
  if (!query || typeof query !== 'object' || Array.isArray(query)) {
    throw new InvalidRequestError('query must be an object of parameter names to values');
  }
  const entries = Object.entries(query);
  if (entries.length > MAX_QUERY_KEYS) {
    throw new InvalidRequestError(`query has more than ${MAX_QUERY_KEYS} parameters`);
  }
  const parsed: [string, string][] = [];
  for (const [key, raw] of entries) {
    if (!QUERY_KEY.test(key)) {
      throw new InvalidRequestError(
        'query parameter names must be 1 to 64 ASCII letters, digits or _'
      );
    }
    if (TOKEN_PARAMS.has(key.toLowerCase())) {
      throw new InvalidRequestError(`query.${key} is set by the service; do not send it`);
    }
    const value =
      typeof raw === 'string' ||
      typeof raw === 'boolean' ||
      (typeof raw === 'number' && Number.isFinite(raw))
        ? String(raw)
        : undefined;
    if (value === undefined) {
      throw new InvalidRequestError(`query.${key} must be a string, a number or a boolean`);
    }
    if (value.length > MAX_QUERY_VALUE_LENGTH) {
      throw new InvalidRequestError(
        `query.${key} is longer than ${MAX_QUERY_VALUE_LENGTH} characters`
      );
    }
    if (CONTROL.test(value) || LONE_SURROGATE.test(value)) {
      throw new InvalidRequestError(`query.${key} contains control or invalid characters`);
    }
    parsed.push([key, value]);
  }
  // fromEntries defines own properties: a "__proto__" key stays a plain key.
  return Object.fromEntries(parsed);
}

/**
 * A `component_appid` the caller sends (in the query or at the top of a JSON body, any letter case) must
 * be ours: the token we add is our component's, and another platform's appid beside it would make WeChat
 * act for, or report on, a platform the caller does not own. One that is absent is not added here: the use
 * case adds it to the APIs that want it.
 */
function checkComponentAppId(
  query: Record<string, string>,
  body: WechatCallRequest['body'],
  componentAppId: string
): void {
  const sent = [
    ...Object.entries(query),
    ...(body && 'json' in body ? Object.entries(body.json as object) : []),
  ].filter(([key]) => key.toLowerCase() === 'component_appid');
  if (sent.some(([, value]) => value !== componentAppId)) {
    throw new InvalidRequestError(
      'component_appid, when sent, must be this platform’s component appid'
    );
  }
}
