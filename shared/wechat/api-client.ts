import { EmptyCredentialError, WechatApiError, WechatUnavailableError } from '../errors';
import { errorKind, parseRequestIp } from './errcodes';
import {
  type ApiName,
  ApiPath,
  type ApiQuotaResponse,
  type AuthorizerApiName,
  AuthorizerApiPath,
  type AuthorizerInfoResponse,
  type AuthorizerListResponse,
  type AuthorizerTokenResponse,
  type ComponentTokenResponse,
  type PreAuthCodeResponse,
  type QueryAuthResponse,
  TICKET_TYPES,
  type TicketResponse,
  type TicketType,
  type WechatErrorBody,
} from './wire';

/**
 * The component (第三方平台) APIs the service calls, one method per WeChat API. Services depend on this
 * port; `HttpComponentApi` is the real adapter and tests use a simulator or a fake.
 */
export interface ComponentApi {
  /** `api_start_push_ticket`: asks WeChat to resume `component_verify_ticket` pushes. */
  apiStartPushTicket(componentSecret: string): Promise<void>;
  /** `api_component_token`: mints a component_access_token from a ticket. */
  apiComponentToken(appSecret: string, ticket: string): Promise<ComponentTokenResponse>;
  /** `api_create_preauthcode`: a single-use pre_auth_code (预授权码) for one authorization link. */
  apiCreatePreauthcode(componentAccessToken: string): Promise<PreAuthCodeResponse>;
  /** `api_query_auth`: exchanges an authorization_code for the authorizer's tokens and permissions. */
  apiQueryAuth(componentAccessToken: string, authorizationCode: string): Promise<QueryAuthResponse>;
  /** `api_authorizer_token`: a new authorizer_access_token from the refresh token. */
  apiAuthorizerToken(
    componentAccessToken: string,
    authorizerAppId: string,
    refreshToken: string
  ): Promise<AuthorizerTokenResponse>;
  /** `api_get_authorizer_list`: one page (count ≤ 500) of authorizers with their refresh tokens. */
  apiGetAuthorizerList(
    componentAccessToken: string,
    offset: number,
    count: number
  ): Promise<AuthorizerListResponse>;
  /**
   * `api_get_authorizer_info`: the account's profile, granted permission sets and current refresh token
   * (how a lost `api_query_auth` answer is recovered, protocol §11.2).
   */
  apiGetAuthorizerInfo(
    componentAccessToken: string,
    authorizerAppId: string
  ): Promise<AuthorizerInfoResponse>;
  /**
   * `getApiQuota` (查询openApi调用quota): the daily limit and today's calls of the API at `cgiPath` for the
   * account whose token asks (component_access_token, or an authorizer_access_token on the merchant's
   * behalf once it granted any permission set).
   *
   * Why the service calls it: as a cheap liveness check of a token a caller reported as rejected, before
   * minting a new one (which spends quota and kills every copy callers hold 5 minutes later). WeChat checks
   * the token before the body, so a `WechatApiError` of kind `token_invalid` (40001, 42001, 40014) proves the
   * token dead, and an answer or any errcode checked after the token (76003, 76021, 76022, 47001) proves it
   * alive. `ip_not_whitelisted` (61004, checked first), `busy` (-1) and `WechatUnavailableError` prove
   * nothing either way.
   *
   * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/openApi/get_api_quota.html
   */
  getApiQuota(accessToken: string, cgiPath: string): Promise<ApiQuotaResponse>;
  /**
   * `getticket` (获取 api_ticket): a new ticket of `type` for the account whose authorizer_access_token
   * asks: the JS-SDK `jsapi_ticket` (`jsapi`) or the card `api_ticket` (`wx_card`), 7200 s. Each call issues
   * a new ticket and counts against a small daily quota per account and type, so the service keeps one
   * ticket per authorizer and type for every caller (protocol §12). A `WechatApiError` of kind
   * `token_invalid` means the authorizer token was refused, not the ticket.
   *
   * @see https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/JS-SDK.html (appendix 1)
   */
  getTicket(authorizerAccessToken: string, type: TicketType): Promise<TicketResponse>;
  /**
   * The same API whose calls all end within `budgetMs` from now (every attempt, every retry): work under a
   * lease or an invocation deadline never outlives it (architecture §7). Nested budgets take the smaller.
   */
  within(budgetMs: number): ComponentApi;
}

export interface HttpComponentApiOptions {
  componentAppId: string;
  /** WeChat origin, `https://api.weixin.qq.com` in production. */
  baseUrl: string;
  /** Per-attempt timeout. The lease in `policy.ts` is longer than all attempts together. */
  timeoutMs: number;
  /** Attempts for transient failures (-1 busy, timeouts, resets, non-JSON answers). */
  attempts: number;
  /** Pause before a retry; tests pass 0. */
  retryDelayMs: number;
  fetch?: typeof fetch;
  /** Sees every errcode answer once, as it arrives (metrics hook: e.g. count 61004 wherever it happens). */
  onWechatError?: (error: WechatApiError) => void;
}

/** Strings peers have sent as credentials and WeChat then rejected with 61006/61023. */
const PLACEHOLDERS = new Set(['', 'null', 'undefined', 'none', 'nil']);

/** Refuses empty and placeholder credentials before they reach WeChat. */
function requireCredential(api: ApiName | AuthorizerApiName, field: string, value: string): string {
  if (typeof value !== 'string' || PLACEHOLDERS.has(value.trim().toLowerCase())) {
    throw new EmptyCredentialError(api, field);
  }
  return value;
}

function requireString(
  api: ApiName | AuthorizerApiName,
  body: Record<string, unknown>,
  field: string
): string {
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new WechatUnavailableError(api, `answer has no ${field}`);
  }
  return value;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function requireCount(api: ApiName, body: Record<string, unknown>, field: string): number {
  const value = body[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new WechatUnavailableError(api, `answer has no valid ${field}`);
  }
  return value;
}

function requirePositive(
  api: ApiName | AuthorizerApiName,
  body: Record<string, unknown>,
  field: string
): number {
  const value = body[field];
  if (typeof value !== 'number' || !(value > 0)) {
    throw new WechatUnavailableError(api, `answer has no valid ${field}`);
  }
  return value;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Below this much time left, a call is not started at all (it could not get an answer back in time). */
const MIN_CALL_BUDGET_MS = 50;

/** A connection that was refused never reached WeChat: the outcome is certain (nothing happened). */
function neverSent(error: unknown): boolean {
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
}

/**
 * `ComponentApi` over HTTPS. Every call goes through one `call()` that POSTs JSON (or, for `getticket`, GETs
 * with its parameters in the query) with a timeout, retries
 * transient failures, and decodes the answer: a non-zero `errcode` becomes a `WechatApiError` whose kind comes
 * from `errcodes.ts`; anything that is not a JSON object becomes `WechatUnavailableError`.
 *
 * The component token is sent as `?component_access_token=` (the name every SDK uses in production);
 * `getApiQuota` takes either token as `?access_token=`, the only name its page gives.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/ticket-token/api_getcomponentaccesstoken
 */
export class HttpComponentApi implements ComponentApi {
  readonly #options: HttpComponentApiOptions;
  readonly #fetch: typeof fetch;
  /** `performance.now()` by which every call must have ended; unset = only the per-attempt timeout. */
  readonly #deadline: number | undefined;

  constructor(options: HttpComponentApiOptions, deadline?: number) {
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
    this.#deadline = deadline;
  }

  within(budgetMs: number): ComponentApi {
    const deadline = performance.now() + Math.max(0, budgetMs);
    return new HttpComponentApi(this.#options, Math.min(deadline, this.#deadline ?? deadline));
  }

  async apiStartPushTicket(componentSecret: string): Promise<void> {
    await this.#call('api_start_push_ticket', undefined, {
      component_appid: this.#options.componentAppId,
      component_secret: requireCredential(
        'api_start_push_ticket',
        'component_secret',
        componentSecret
      ),
    });
  }

  async apiComponentToken(appSecret: string, ticket: string): Promise<ComponentTokenResponse> {
    const api = 'api_component_token';
    const body = await this.#call(api, undefined, {
      component_appid: this.#options.componentAppId,
      component_appsecret: requireCredential(api, 'component_appsecret', appSecret),
      component_verify_ticket: requireCredential(api, 'component_verify_ticket', ticket),
    });
    return {
      component_access_token: requireString(api, body, 'component_access_token'),
      expires_in: requirePositive(api, body, 'expires_in'),
    };
  }

  async apiCreatePreauthcode(componentAccessToken: string): Promise<PreAuthCodeResponse> {
    const api = 'api_create_preauthcode';
    const body = await this.#call(api, componentAccessToken, {
      component_appid: this.#options.componentAppId,
    });
    return {
      pre_auth_code: requireString(api, body, 'pre_auth_code'),
      expires_in: requirePositive(api, body, 'expires_in'),
    };
  }

  async apiQueryAuth(
    componentAccessToken: string,
    authorizationCode: string
  ): Promise<QueryAuthResponse> {
    const api = 'api_query_auth';
    // The code is single-use: a transport failure is never retried here (the first attempt may have
    // consumed it); the caller recovers the outcome instead (architecture §7).
    const body = await this.#call(
      api,
      componentAccessToken,
      {
        component_appid: this.#options.componentAppId,
        authorization_code: requireCredential(api, 'authorization_code', authorizationCode),
      },
      { singleUse: true }
    );
    const info = body.authorization_info as Record<string, unknown> | undefined;
    if (!info || typeof info !== 'object') {
      throw new WechatUnavailableError(api, 'answer has no authorization_info');
    }
    // Without API permission WeChat issues neither token (protocol §11.3): a valid, final answer.
    const accessToken = optionalString(info, 'authorizer_access_token');
    const refreshToken = optionalString(info, 'authorizer_refresh_token');
    if (accessToken && !(typeof info.expires_in === 'number' && info.expires_in > 0)) {
      throw new WechatUnavailableError(api, 'answer has no valid expires_in');
    }
    return {
      authorization_info: {
        authorizer_appid: requireString(api, info, 'authorizer_appid'),
        authorizer_access_token: accessToken,
        expires_in: accessToken ? (info.expires_in as number) : undefined,
        authorizer_refresh_token: refreshToken,
        func_info: Array.isArray(info.func_info) ? info.func_info : [],
      },
    };
  }

  async apiAuthorizerToken(
    componentAccessToken: string,
    authorizerAppId: string,
    refreshToken: string
  ): Promise<AuthorizerTokenResponse> {
    const api = 'api_authorizer_token';
    const body = await this.#call(api, componentAccessToken, {
      component_appid: this.#options.componentAppId,
      authorizer_appid: requireCredential(api, 'authorizer_appid', authorizerAppId),
      authorizer_refresh_token: requireCredential(api, 'authorizer_refresh_token', refreshToken),
    });
    const rotated = body.authorizer_refresh_token;
    return {
      authorizer_access_token: requireString(api, body, 'authorizer_access_token'),
      expires_in: requirePositive(api, body, 'expires_in'),
      authorizer_refresh_token: typeof rotated === 'string' && rotated ? rotated : undefined,
    };
  }

  async apiGetAuthorizerList(
    componentAccessToken: string,
    offset: number,
    count: number
  ): Promise<AuthorizerListResponse> {
    const api = 'api_get_authorizer_list';
    const body = await this.#call(api, componentAccessToken, {
      component_appid: this.#options.componentAppId,
      offset,
      count: Math.min(count, 500),
    });
    // A page without its list, its total or a well-formed item is a failure, never an empty list: "not
    // listed" is a verdict that needs a complete answer (protocol §11.7).
    const { list, total_count } = body;
    if (!Array.isArray(list) || typeof total_count !== 'number' || total_count < 0) {
      throw new WechatUnavailableError(api, 'answer has no list or total_count');
    }
    const wellFormed = list.every(
      (item) =>
        !!item &&
        typeof item === 'object' &&
        typeof item.authorizer_appid === 'string' &&
        item.authorizer_appid.length > 0 &&
        (item.refresh_token === undefined || typeof item.refresh_token === 'string')
    );
    if (!wellFormed) throw new WechatUnavailableError(api, 'answer has a malformed list item');
    return {
      total_count,
      list: list.map((item) => ({
        authorizer_appid: item.authorizer_appid,
        refresh_token: item.refresh_token ?? '',
        auth_time: typeof item.auth_time === 'number' ? item.auth_time : 0,
      })),
    };
  }

  async apiGetAuthorizerInfo(
    componentAccessToken: string,
    authorizerAppId: string
  ): Promise<AuthorizerInfoResponse> {
    const api = 'api_get_authorizer_info';
    const body = await this.#call(api, componentAccessToken, {
      component_appid: this.#options.componentAppId,
      authorizer_appid: requireCredential(api, 'authorizer_appid', authorizerAppId),
    });
    const info = body.authorization_info as Record<string, unknown> | undefined;
    if (!body.authorizer_info || !info || typeof info !== 'object') {
      throw new WechatUnavailableError(api, 'answer has no authorizer_info');
    }
    const named = optionalString(info, 'authorizer_appid') ?? optionalString(info, 'appid');
    if (named !== authorizerAppId) {
      throw new WechatUnavailableError(api, 'answer names another authorizer');
    }
    return {
      ...(body as unknown as AuthorizerInfoResponse),
      authorization_info: {
        ...(info as AuthorizerInfoResponse['authorization_info']),
        authorizer_appid: named,
        authorizer_refresh_token: optionalString(info, 'authorizer_refresh_token'),
        func_info: Array.isArray(info.func_info) ? info.func_info : [],
      },
    };
  }

  async getApiQuota(accessToken: string, cgiPath: string): Promise<ApiQuotaResponse> {
    const api = 'getApiQuota';
    const body = await this.#call(
      api,
      accessToken,
      { cgi_path: cgiPath },
      { tokenParam: 'access_token' }
    );
    const quota = body.quota as Record<string, unknown> | undefined;
    if (!quota || typeof quota !== 'object') {
      throw new WechatUnavailableError(api, 'answer has no quota');
    }
    return {
      quota: {
        daily_limit: requireCount(api, quota, 'daily_limit'),
        used: requireCount(api, quota, 'used'),
        remain: requireCount(api, quota, 'remain'),
      },
    };
  }

  async getTicket(authorizerAccessToken: string, type: TicketType): Promise<TicketResponse> {
    const api = 'getTicket';
    if (!TICKET_TYPES.includes(type)) throw new EmptyCredentialError(api, 'type');
    // A retry after a lost answer is harmless: the lost ticket only supersedes the one the retry replaces.
    const body = await this.#call(api, authorizerAccessToken, undefined, {
      tokenParam: 'access_token',
      query: { type },
    });
    return {
      ticket: requireString(api, body, 'ticket'),
      expires_in: requirePositive(api, body, 'expires_in'),
    };
  }

  /**
   * One WeChat call: a POST of `payload` as JSON, or a GET when there is none (`query` then carries the
   * parameters after the token).
   */
  async #call(
    api: ApiName | AuthorizerApiName,
    accessToken: string | undefined,
    payload: object | undefined,
    options: {
      singleUse?: boolean;
      tokenParam?: 'access_token';
      query?: Record<string, string>;
    } = {}
  ): Promise<Record<string, unknown>> {
    const path =
      api in AuthorizerApiPath
        ? AuthorizerApiPath[api as AuthorizerApiName]
        : ApiPath[api as ApiName];
    const endpoint = `${this.#options.baseUrl}${path}`;
    const params: string[] = [];
    if (accessToken !== undefined) {
      const param = options.tokenParam ?? 'component_access_token';
      params.push(`${param}=${encodeURIComponent(requireCredential(api, param, accessToken))}`);
    }
    for (const [name, value] of Object.entries(options.query ?? {})) {
      params.push(`${name}=${encodeURIComponent(value)}`);
    }
    const url = params.length ? `${endpoint}?${params.join('&')}` : endpoint;
    const attempts = Math.max(1, this.#options.attempts);
    // Whether an earlier attempt may have acted (its answer was lost): every later error says so too.
    let acted = false;
    for (let attempt = 1; ; attempt++) {
      const timeoutMs = this.#attemptTimeout();
      if (timeoutMs < MIN_CALL_BUDGET_MS) {
        throw new WechatUnavailableError(api, 'no time left before the deadline', {
          uncertain: acted,
          url: endpoint,
        });
      }
      try {
        return await this.#once(api, url, endpoint, payload, timeoutMs);
      } catch (error) {
        const unanswered = error instanceof WechatUnavailableError;
        const busy = error instanceof WechatApiError && error.kind === 'busy';
        if (unanswered && error.uncertain) acted = true;
        // WeChat does not say whether a call answered -1 acted (protocol §11.10): the call is sent again
        // (it may not have), but it may have issued a token or consumed a code, so what follows (a 61009,
        // another -1) is no verdict and a failure is an uncertain outcome.
        if (busy) acted = true;
        if (acted && error instanceof WechatApiError) error.afterLostAnswer = true;
        // A call that got no answer may have acted, so a single-use one is not sent again.
        const retryable = busy || (unanswered && !options.singleUse);
        if (!retryable || attempt >= attempts) throw error;
        const pause = this.#options.retryDelayMs * attempt;
        if (this.#attemptTimeout() - pause < MIN_CALL_BUDGET_MS) throw error;
        await sleep(pause);
      }
    }
  }

  /** The per-attempt timeout, cut to what is left before the deadline. */
  #attemptTimeout(): number {
    const left =
      this.#deadline === undefined ? Number.POSITIVE_INFINITY : this.#deadline - performance.now();
    return Math.floor(Math.min(this.#options.timeoutMs, left));
  }

  async #once(
    api: ApiName | AuthorizerApiName,
    url: string,
    endpoint: string,
    payload: object | undefined,
    timeoutMs: number
  ): Promise<Record<string, unknown>> {
    let text: string;
    let status: number;
    try {
      const signal = AbortSignal.timeout(timeoutMs);
      const response = await this.#fetch(
        url,
        payload === undefined
          ? { method: 'GET', signal }
          : {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(payload),
              signal,
            }
      );
      status = response.status;
      text = await response.text();
    } catch (error) {
      const reason =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
          ? `no answer within ${timeoutMs} ms`
          : 'connection failed';
      throw new WechatUnavailableError(api, reason, {
        cause: error,
        uncertain: !neverSent(error),
        url: endpoint,
      });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new WechatUnavailableError(api, `HTTP ${status} answer is not JSON`, { url: endpoint });
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new WechatUnavailableError(api, `HTTP ${status} answer is not a JSON object`, {
        url: endpoint,
      });
    }
    const { errcode, errmsg } = body as WechatErrorBody;
    if (errcode !== undefined && errcode !== 0) {
      const message = typeof errmsg === 'string' ? errmsg : '';
      const kind = errorKind(Number(errcode));
      const requestIp = kind === 'ip_not_whitelisted' ? parseRequestIp(message) : undefined;
      const error = new WechatApiError(api, Number(errcode), message, kind, requestIp);
      this.#options.onWechatError?.(error);
      throw error;
    }
    if (status >= 400) throw new WechatUnavailableError(api, `HTTP ${status}`, { url: endpoint });
    return body as Record<string, unknown>;
  }
}
