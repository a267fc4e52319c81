import { LambdaClient } from '@aws-sdk/client-lambda';
import { type WeChatApi, weChatApi } from './call-wechat.js';
import { TokenServiceError } from './errors.js';
import { type GetTokenRequest, type Issued, invokeGetToken, type TicketKind } from './invoke.js';
import {
  type JsapiConfig,
  type JsapiConfigOptions,
  jsapiSignature,
  randomNonce,
  withoutFragment,
} from './jsapi.js';

/**
 * WeChat's answers to a call made with a token it does not accept: 40001 (invalid or superseded), 42001
 * (expired), 40014 (invalid access_token). Each means "get a new token and try once more".
 * @see https://developers.weixin.qq.com/doc/oplatform/Return_codes/Return_code_descriptions_new.html
 */
export const TOKEN_REJECTED_ERRCODES: readonly number[] = [40001, 42001, 40014];

export interface TokenClientOptions {
  /**
   * The get-token function: the stack's `GetTokenFunctionName` output, or its `GetTokenFunctionArn` (needed
   * from another account).
   */
  functionName: string;
  /**
   * The call-wechat function, needed only by `wechat()` and `componentWeChat()`: the stack's
   * `CallWeChatFunctionName` output, or the function's ARN (needed from another account).
   */
  callWeChatFunctionName?: string;
  /** @default a `LambdaClient` from the environment (region, credentials), created on first use */
  lambda?: LambdaClient;
  /**
   * Longest wait for one invoke, of either function.
   * @default 12000 (the function's 10 s timeout, plus the invoke itself)
   */
  timeoutMs?: number;
  /**
   * A cached token (or ticket) is used until this long before the `expiresAt` the service gave. That `expiresAt` is
   * already the service's promise (never past the moment WeChat may stop accepting the token, including the
   * 5-minute overlap after a renewal), and every token handed out has at least 5 minutes of it left. Within
   * the margin, when get-token cannot be reached or cannot renew, the cached one is served until `expiresAt`.
   * @default 60000
   */
  expiryMarginMs?: number;
  /** @default Date.now */
  clock?: () => number;
}

export interface TokenClient {
  /**
   * A merchant's (authorizer's) `authorizer_access_token`, from the cache or one invoke shared by all
   * concurrent callers. With `invalidToken` (the token WeChat just rejected) the service renews it first.
   * @throws TokenServiceError, never resolves to a missing token.
   */
  getAuthorizerToken(authorizerAppId: string, options?: { invalidToken?: string }): Promise<string>;
  /** The platform's own `component_access_token`; otherwise as `getAuthorizerToken`. */
  getComponentToken(options?: { invalidToken?: string }): Promise<string>;
  /**
   * Calls `fn` with the merchant's token. When `fn` returns or throws something carrying `errcode` 40001,
   * 42001 or 40014, reports that token once with `invalidToken` and calls `fn` again with the new one;
   * whatever the second call returns or throws is the result. Never more than one retry.
   */
  withAuthorizerToken<T>(
    authorizerAppId: string,
    fn: (accessToken: string) => T | Promise<T>
  ): Promise<T>;
  /** `withAuthorizerToken` for the component token. */
  withComponentToken<T>(fn: (accessToken: string) => T | Promise<T>): Promise<T>;
  /**
   * A merchant's (official account's) `jsapi_ticket`, cached like a token. With `invalidTicket` (a ticket
   * WeChat refused) the service renews it first.
   * @throws TokenServiceError with get-token's codes.
   */
  getJsapiTicket(authorizerAppId: string, options?: { invalidTicket?: string }): Promise<string>;
  /** The merchant's `wx_card` ticket (`api_ticket` of the card APIs); otherwise as `getJsapiTicket`. */
  getCardTicket(authorizerAppId: string, options?: { invalidTicket?: string }): Promise<string>;
  /**
   * What a page at `url` passes to `wx.config`: signed with the merchant's `jsapi_ticket`, over `url` without
   * its `#` fragment, with a fresh random `nonceStr` and the current time unless `options` fix them.
   */
  jsapiConfig(
    authorizerAppId: string,
    url: string,
    options?: JsapiConfigOptions
  ): Promise<JsapiConfig>;
  /**
   * WeChat's API as the merchant, through call-wechat (which adds the merchant's token). Not cached.
   * @throws TypeError when the client has no `callWeChatFunctionName`.
   */
  wechat(authorizerAppId: string): WeChatApi;
  /**
   * WeChat's API as the platform (component APIs such as `/sns/component/jscode2session`), through
   * call-wechat (which adds the `component_access_token`, or passes it as `tokenParam`). Not cached.
   * @throws TypeError when the client has no `callWeChatFunctionName`.
   */
  componentWeChat(options?: { tokenParam?: 'access_token' }): WeChatApi;
}

/** A token or a ticket in the cache. */
interface Cached {
  value: string;
  /** Served without asking get-token until then: `expiresAt` less the margin. */
  freshUntil: number;
  /** The service's promise: served after `freshUntil` only when asking get-token again failed. */
  expiresAt: number;
}

/**
 * The service's verdicts on a merchant (or on the request): a token cached before one of these is not served
 * in its place. Any other failure (unreachable, timeout, throttled, WeChat unavailable) says nothing about the
 * cached token, which WeChat keeps accepting until its `expiresAt`.
 */
const VERDICTS: ReadonlySet<string> = new Set([
  'authorizer_not_found',
  'authorizer_revoked',
  'needs_reauthorization',
  'authorizer_without_api_permission',
  'authorization_code_needed',
  'invalid_request',
]);

interface Flight {
  promise: Promise<string>;
  /** The token or ticket this flight reports as rejected. */
  invalid?: string;
}

/** The WeChat errcode a result or an error carries: own `errcode`, `data`/`response.data` (HTTP libraries), `cause`. */
function carriedErrcode(value: unknown, depth = 0): number | undefined {
  if (!value || typeof value !== 'object' || depth > 3) return undefined;
  const v = value as Record<string, unknown>;
  const own = Number(v.errcode);
  if (v.errcode !== undefined && Number.isInteger(own)) return own;
  const response = v.response as Record<string, unknown> | undefined;
  return (
    carriedErrcode(v.data, depth + 1) ??
    carriedErrcode(response?.data, depth + 1) ??
    carriedErrcode(v.cause, depth + 1)
  );
}

const rejectsToken = (value: unknown) => {
  const errcode = carriedErrcode(value);
  return errcode !== undefined && TOKEN_REJECTED_ERRCODES.includes(errcode);
};

async function withToken<T>(
  token: (invalidToken?: string) => Promise<string>,
  fn: (accessToken: string) => T | Promise<T>
): Promise<T> {
  const first = await token();
  let outcome: T;
  try {
    outcome = await fn(first);
  } catch (error) {
    if (!rejectsToken(error)) throw error;
    return fn(await token(first));
  }
  if (!rejectsToken(outcome)) return outcome;
  return fn(await token(first));
}

/**
 * A client for the get-token Lambda: tokens cached in memory, one invoke per key however many callers ask at
 * once, one renewal and retry when WeChat rejects a token, and every failure a `TokenServiceError` with a
 * stable `code`. Create one per process and share it.
 *
 * @example
 * const tokens = createTokenClient({ functionName: process.env.GET_TOKEN_FUNCTION! });
 * const info = await tokens.withAuthorizerToken('wx…', (token) => callWechat(token));
 */
export function createTokenClient(options: TokenClientOptions): TokenClient {
  const {
    functionName,
    callWeChatFunctionName,
    timeoutMs = 12_000,
    expiryMarginMs = 60_000,
    clock = Date.now,
  } = options;
  if (!functionName) throw new TypeError('createTokenClient: functionName is required');
  let lambda = options.lambda;
  const lambdaClient = () => {
    lambda ??= new LambdaClient({});
    return lambda;
  };
  const cache = new Map<string, Cached>();
  const flights = new Map<string, Flight>();
  const generations = new Map<string, number>();

  const remember = (key: string, issued: Issued) => {
    const { value, expiresAt } = issued;
    if (expiresAt > clock()) {
      cache.set(key, { value, freshUntil: expiresAt - expiryMarginMs, expiresAt });
    } else {
      cache.delete(key);
    }
  };

  /**
   * What a failed flight for `key` ends in: the cached token or ticket while it is still valid (before its
   * `expiresAt`; never the one being reported) unless the service gave a verdict, which also ends the cached
   * one; otherwise the failure.
   */
  const servedDespite =
    (key: string, invalid: string | undefined, generation: number) => (error: unknown) => {
      const cached = cache.get(key);
      if (error instanceof TokenServiceError && VERDICTS.has(error.code)) {
        if (generations.get(key) === generation) cache.delete(key);
        throw error;
      }
      if (cached && clock() < cached.expiresAt && cached.value !== invalid) return cached.value;
      throw error;
    };

  /**
   * The cached token or ticket, or a flight to get-token. A plain request joins any flight for the key; a
   * report of a rejected one (`invalid`, named in `request`) joins only a report of the same one. Only
   * the latest flight for a key fills the cache, so an answer read before a renewal never overwrites the
   * renewed token.
   */
  const issuedFor = (key: string, request: GetTokenRequest, invalid: string | undefined) => {
    const cached = cache.get(key);
    if (cached && clock() < cached.freshUntil && cached.value !== invalid) {
      return Promise.resolve(cached.value);
    }
    const flight = flights.get(key);
    if (flight && (invalid === undefined || flight.invalid === invalid)) {
      return flight.promise;
    }
    if (invalid !== undefined && cached?.value === invalid) cache.delete(key);
    const generation = (generations.get(key) ?? 0) + 1;
    generations.set(key, generation);
    const promise: Promise<string> = invokeGetToken(
      lambdaClient(),
      functionName,
      request,
      timeoutMs
    )
      .then(
        (issued) => {
          if (generations.get(key) === generation) remember(key, issued);
          return issued.value;
        },
        servedDespite(key, invalid, generation)
      )
      .finally(() => {
        if (flights.get(key)?.promise === promise) flights.delete(key);
      });
    flights.set(key, { promise, invalid });
    return promise;
  };

  const authorizerToken = (appId: string) => (invalidToken?: string) =>
    issuedFor(
      `authorizer:${appId}`,
      { authorizerAppId: appId, ...(invalidToken === undefined ? {} : { invalidToken }) },
      invalidToken
    );
  const componentToken = (invalidToken?: string) =>
    issuedFor(
      'component',
      { component: true, ...(invalidToken === undefined ? {} : { invalidToken }) },
      invalidToken
    );
  const ticket = (kind: TicketKind, appId: string, invalidTicket?: string) =>
    issuedFor(
      `ticket:${kind}:${appId}`,
      {
        authorizerAppId: appId,
        ticket: kind,
        ...(invalidTicket === undefined ? {} : { invalidTicket }),
      },
      invalidTicket
    );

  const callWeChat = (method: string) => {
    if (!callWeChatFunctionName) {
      throw new TypeError(`${method}: the client was created without callWeChatFunctionName`);
    }
    return callWeChatFunctionName;
  };

  return {
    getAuthorizerToken: (appId, opts) => authorizerToken(appId)(opts?.invalidToken),
    getComponentToken: (opts) => componentToken(opts?.invalidToken),
    withAuthorizerToken: (appId, fn) => withToken(authorizerToken(appId), fn),
    withComponentToken: (fn) => withToken(componentToken, fn),
    getJsapiTicket: (appId, opts) => ticket('jsapi', appId, opts?.invalidTicket),
    getCardTicket: (appId, opts) => ticket('wx_card', appId, opts?.invalidTicket),
    jsapiConfig: async (appId, url, opts) => {
      const jsapiTicket = await ticket('jsapi', appId);
      const nonceStr = opts?.nonceStr ?? randomNonce();
      const timestamp = opts?.timestamp ?? Math.floor(clock() / 1000);
      const signature = jsapiSignature({
        jsapiTicket,
        nonceStr,
        timestamp,
        url: withoutFragment(url),
      });
      return { appId, timestamp, nonceStr, signature };
    },
    wechat: (appId) =>
      weChatApi(lambdaClient, callWeChat('wechat'), { authorizerAppId: appId }, timeoutMs),
    componentWeChat: (opts) =>
      weChatApi(
        lambdaClient,
        callWeChat('componentWeChat'),
        opts?.tokenParam === undefined
          ? { component: true }
          : { component: true, tokenParam: opts.tokenParam },
        timeoutMs
      ),
  };
}
