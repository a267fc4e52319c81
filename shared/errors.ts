/**
 * The service's error taxonomy. Every error has a stable snake_case `code` (used in logs, metrics and
 * caller-facing answers) and a `retryable` flag. Messages never contain a token, ticket, secret, auth code
 * or decrypted payload, so any of them may be logged or shown as is.
 *
 * Domain errors carry no HTTP status: `functions/lib/http-errors.ts` is the one place that maps them.
 */
/**
 * Every error code the service uses: in logs, metrics, the HTTP mapping (`functions/lib/http-errors.ts`,
 * exhaustive over this union) and, for the subset in `CALLER_ERROR_CODES`, get-token's and call-wechat's
 * answers.
 */
export type ServiceErrorCode =
  | 'config_invalid'
  | 'invalid_request'
  | 'signature_mismatch'
  | 'malformed_message'
  | 'appid_mismatch'
  | 'payload_too_large'
  | `wechat_${WechatErrorKind}`
  | 'wechat_unavailable'
  | 'empty_credential'
  | 'ticket_unavailable'
  | 'jsapi_ticket_unavailable'
  | 'authorizer_not_found'
  | 'authorizer_revoked'
  | 'needs_reauthorization'
  | 'authorizer_without_api_permission'
  | 'authorization_code_needed'
  | 'refresh_token_unusable'
  | 'auth_code_expired'
  | 'auth_code_recovery_pending'
  | 'auth_code_awaiting_push'
  | 'concurrent_update'
  | 'store_unavailable'
  | 'upstream_unavailable'
  | 'refresh_in_progress'
  | 'message_unpublished'
  | 'refresh_systemic_failure';

export abstract class ServiceError extends Error {
  abstract readonly code: ServiceErrorCode;
  readonly retryable: boolean = false;
}

/** Runtime configuration or the component secret is missing or malformed. */
export class ConfigError extends ServiceError {
  override readonly name = 'ConfigError';
  readonly code = 'config_invalid';
  constructor(
    readonly problems: readonly string[],
    options?: ErrorOptions
  ) {
    super(`invalid configuration: ${problems.join('; ')}`, options);
  }
}

/** A request to this service (an event, a page visit, a get-token payload) is not acceptable. */
export class InvalidRequestError extends ServiceError {
  override readonly name = 'InvalidRequestError';
  readonly code = 'invalid_request';
}

/** `msg_signature` (or `signature`) does not match: the push did not come from WeChat, or the token is wrong. */
export class SignatureMismatchError extends ServiceError {
  override readonly name = 'SignatureMismatchError';
  readonly code = 'signature_mismatch';
}

/** An encrypted message or its XML is malformed: bad base64, length, padding, receive id, or XML. */
export class MalformedMessageError extends ServiceError {
  override readonly name = 'MalformedMessageError';
  readonly code = 'malformed_message';
}

/** The decrypted message names another receive id (appid) than our component appid. */
export class AppIdMismatchError extends ServiceError {
  override readonly name = 'AppIdMismatchError';
  readonly code = 'appid_mismatch';
}

/** A body (a push, a page form) or a call-wechat request is larger than we accept. */
export class PayloadTooLargeError extends ServiceError {
  override readonly name = 'PayloadTooLargeError';
  readonly code = 'payload_too_large';
}

/** What a WeChat errcode means for us; one table in `shared/wechat/errcodes.ts` assigns it. */
export type WechatErrorKind =
  | 'token_invalid'
  | 'ip_not_whitelisted'
  | 'quota'
  | 'ticket_invalid'
  | 'refresh_token_invalid'
  | 'auth_code_invalid'
  | 'not_authorized'
  | 'credentials_invalid'
  | 'busy'
  | 'unknown';

/**
 * WeChat answered with a non-zero `errcode`. Raised only by the API client's decode step.
 * `errmsg` is kept for operators but never exposed to callers (it can carry `requestIP`).
 */
export class WechatApiError extends ServiceError {
  override readonly name = 'WechatApiError';
  readonly code: `wechat_${WechatErrorKind}`;
  override readonly retryable: boolean;
  constructor(
    readonly api: string,
    readonly errcode: number,
    readonly errmsg: string,
    readonly kind: WechatErrorKind,
    /** The egress IP WeChat saw, parsed from a 61004/40164 `errmsg`, for the whitelist runbook. */
    readonly requestIp?: string
  ) {
    super(`WeChat ${api} failed with errcode ${errcode} (${kind})`);
    this.code = `wechat_${kind}`;
    this.retryable = kind === 'busy' || kind === 'token_invalid';
  }

  /**
   * Set when an earlier attempt of the same call got no answer: that attempt may have acted (a token
   * issued, a refresh token rotated), whatever this answer says.
   */
  afterLostAnswer = false;
}

/**
 * WeChat could not be reached or did not answer usably (timeout, reset, 5xx, HTML error page, a JSON answer
 * without the fields the API promises).
 *
 * `uncertain` is true when the request may have reached WeChat and been processed although we got no usable
 * answer (architecture §7): a new token may exist, a refresh token may have rotated, a single-use code may be
 * consumed. It is false only when the request certainly never left (no time left, connection refused).
 */
export class WechatUnavailableError extends ServiceError {
  override readonly name = 'WechatUnavailableError';
  readonly code = 'wechat_unavailable';
  override readonly retryable = true;
  readonly uncertain: boolean;
  /** The WeChat URL without its query (which carries the token), for the operator's log line. */
  readonly url?: string;
  constructor(
    readonly api: string,
    reason: string,
    options?: ErrorOptions & { uncertain?: boolean; url?: string }
  ) {
    super(`WeChat ${api} unavailable: ${reason}`, options);
    this.uncertain = options?.uncertain ?? true;
    this.url = options?.url;
  }
}

/** True when a failed WeChat call may nevertheless have acted (see `WechatUnavailableError.uncertain`). */
export function isUncertainOutcome(error: unknown): boolean {
  if (error instanceof WechatApiError) return error.afterLostAnswer;
  return error instanceof WechatUnavailableError && error.uncertain;
}

/** We refused to send an empty or "null" credential to WeChat (peers send them and get 61006/61023). */
export class EmptyCredentialError extends ServiceError {
  override readonly name = 'EmptyCredentialError';
  readonly code = 'empty_credential';
  constructor(
    readonly api: string,
    readonly field: string
  ) {
    super(`refusing to call ${api} with an empty ${field}`);
  }
}

/** No `component_verify_ticket` inside its 12 h life: the component token cannot be minted. */
export class TicketUnavailableError extends ServiceError {
  override readonly name = 'TicketUnavailableError';
  readonly code = 'ticket_unavailable';
}

/**
 * An authorizer's `getticket` ticket (the JS-SDK `jsapi_ticket` or the card `wx_card` ticket, protocol §12)
 * could not be obtained and no stored one has promised life left: `getticket` failed (its small daily quota,
 * 45009; WeChat busy or unreachable), the authorizer's token could not be had for it, or a caller's
 * `invalidTicket` report was refused by the report limits. Not `ticket_unavailable`, which is the platform's
 * `component_verify_ticket`. `reason` is the underlying code (`wechat_quota`, …).
 */
export class JsapiTicketUnavailableError extends ServiceError {
  override readonly name = 'JsapiTicketUnavailableError';
  readonly code = 'jsapi_ticket_unavailable';
  override readonly retryable = true;
  constructor(
    readonly type: string,
    readonly reason: string,
    options?: ErrorOptions
  ) {
    super(
      `the ${type} ticket could not be obtained from WeChat (${reason}); try again shortly`,
      options
    );
  }
}

/** No authorizer with this appid has authorized this platform. */
export class AuthorizerNotFoundError extends ServiceError {
  override readonly name = 'AuthorizerNotFoundError';
  readonly code = 'authorizer_not_found';
  constructor(readonly authorizerAppId: string) {
    super(`authorizer ${authorizerAppId} has not authorized this platform`);
  }
}

/** The merchant revoked the authorization (an `unauthorized` push). */
export class AuthorizerRevokedError extends ServiceError {
  override readonly name = 'AuthorizerRevokedError';
  readonly code = 'authorizer_revoked';
  constructor(readonly authorizerAppId: string) {
    super(`authorizer ${authorizerAppId} revoked the authorization`);
  }
}

/** The refresh token is gone and WeChat no longer lists the authorizer: the merchant must authorize again. */
export class NeedsReauthorizationError extends ServiceError {
  override readonly name = 'NeedsReauthorizationError';
  readonly code = 'needs_reauthorization';
  constructor(readonly authorizerAppId: string) {
    super(`authorizer ${authorizerAppId} must authorize the platform again`);
  }
}

/**
 * The merchant authorized the platform, but the account has no API permission (e.g. an unverified official
 * account), so WeChat issued no access or refresh token (`api_query_auth` answers without them). Only the
 * merchant can change that; the authorization and its permission sets are recorded.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/en/openApi/OpenApiDoc/ticket-token/getAuthorizerRefreshToken.html
 */
export class AuthorizerWithoutApiPermissionError extends ServiceError {
  override readonly name = 'AuthorizerWithoutApiPermissionError';
  readonly code = 'authorizer_without_api_permission';
  constructor(readonly authorizerAppId: string) {
    super(`authorizer ${authorizerAppId} authorized the platform but has no API permission`);
  }
}

/**
 * WeChat lists the account as authorizing the platform, but gives no refresh token, in its list or from
 * `api_get_authorizer_info`; WeChat's FAQ: an empty refresh token is obtained again with an authorization
 * code (`api_query_auth`), and an expired code by the merchant updating the authorization (更新授权).
 * Only a new code from the merchant settles it.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html
 */
export class AuthorizationCodeNeededError extends ServiceError {
  override readonly name = 'AuthorizationCodeNeededError';
  readonly code = 'authorization_code_needed';
  constructor(readonly authorizerAppId: string) {
    super(
      `authorizer ${authorizerAppId} must update its authorization: WeChat has no refresh token for it`
    );
  }
}

/**
 * WeChat still lists the authorizer but gives us no refresh token it accepts (listed with an empty one,
 * protocol §11.7, or the listed one is rejected). Not a verdict: the old token is kept, and WeChat is asked
 * again later (`UNLISTED_REFRESH_TOKEN_RETRY_MS`); only the merchant's new authorization or WeChat's list
 * can settle it.
 */
export class RefreshTokenUnusableError extends ServiceError {
  override readonly name = 'RefreshTokenUnusableError';
  readonly code = 'refresh_token_unusable';
  override readonly retryable = true;
}

/** The authorization code expired or was already used (61009/61010, or our own record says so). */
export class AuthCodeExpiredError extends ServiceError {
  override readonly name = 'AuthCodeExpiredError';
  readonly code = 'auth_code_expired';
}

/** A conditional write lost: someone else changed the item first. Raised only by the store adapter. */
export class ConcurrentUpdateError extends ServiceError {
  override readonly name = 'ConcurrentUpdateError';
  readonly code = 'concurrent_update';
  override readonly retryable = true;
}

/** DynamoDB throttled, failed or could not be reached; the operation may be retried. */
export class StoreUnavailableError extends ServiceError {
  override readonly name = 'StoreUnavailableError';
  readonly code = 'store_unavailable';
  override readonly retryable = true;
}

/**
 * A refresh was needed and failed, and no usable token is left to serve. `reason` is the underlying
 * error's code (`wechat_quota`, `wechat_busy`, …) so callers can tell a quota problem from an outage.
 */
export class UpstreamUnavailableError extends ServiceError {
  override readonly name = 'UpstreamUnavailableError';
  readonly code = 'upstream_unavailable';
  override readonly retryable = true;
  constructor(
    readonly reason: string,
    options?: ErrorOptions
  ) {
    super(`the token could not be refreshed (${reason}); try again shortly`, options);
  }
}

/**
 * The bus did not take an authorized account's message: WeChat is answered with an error so that it
 * delivers the push again (three deliveries in all), rather than told `success` for a message we lost.
 */
export class MessageUnpublishedError extends ServiceError {
  override readonly name = 'MessageUnpublishedError';
  readonly code = 'message_unpublished';
  override readonly retryable = true;
}

/** Another refresher holds the lease and did not finish in the time we were willing to wait. */
export class RefreshInProgressError extends ServiceError {
  override readonly name = 'RefreshInProgressError';
  readonly code = 'refresh_in_progress';
  override readonly retryable = true;
}

/**
 * The codes get-token and call-wechat answer with, and the only ones a caller branches on (docs/callers.md,
 * "Callers"). Every other failure is reported to callers as `upstream_unavailable`. `payload_too_large` comes
 * only from call-wechat (`shared/egress/wechat-call-request.ts`): a request near Lambda's 6 MB limit.
 */
export const CALLER_ERROR_CODES = [
  'authorizer_not_found',
  'authorizer_revoked',
  'needs_reauthorization',
  'authorizer_without_api_permission',
  'authorization_code_needed',
  'ticket_unavailable',
  'jsapi_ticket_unavailable',
  'invalid_request',
  'payload_too_large',
  'upstream_unavailable',
] as const satisfies readonly ServiceErrorCode[];

export type CallerErrorCode = (typeof CALLER_ERROR_CODES)[number];

/** The caller-facing code for any error: its own when it is one of `CALLER_ERROR_CODES`. */
export function callerErrorCode(error: unknown): CallerErrorCode {
  const code = errorCode(error);
  return (CALLER_ERROR_CODES as readonly string[]).includes(code)
    ? (code as CallerErrorCode)
    : 'upstream_unavailable';
}

/** The error's stable code, or `internal_error` for anything that is not ours. */
export function errorCode(error: unknown): ServiceErrorCode | 'internal_error' {
  return error instanceof ServiceError ? error.code : 'internal_error';
}
