/**
 * The service's error taxonomy. Every error has a stable snake_case `code` (used in logs, metrics and
 * caller-facing answers) and a `retryable` flag. Messages never contain a token, ticket, secret, auth code
 * or decrypted payload, so any of them may be logged or shown as is.
 *
 * Domain errors carry no HTTP status: `functions/lib/http-errors.ts` is the one place that maps them.
 */
export abstract class ServiceError extends Error {
  abstract readonly code: string;
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

/** The body is larger than the intake accepts. */
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
  | 'credentials_invalid'
  | 'busy'
  | 'unknown';

/**
 * WeChat answered with a non-zero `errcode`. Raised only by the API client's decode step.
 * `errmsg` is kept for operators but never exposed to callers (it can carry `requestIP`).
 */
export class WechatApiError extends ServiceError {
  override readonly name = 'WechatApiError';
  readonly code: string;
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
}

/** WeChat could not be reached or did not answer with JSON (timeout, reset, 5xx, HTML error page). */
export class WechatUnavailableError extends ServiceError {
  override readonly name = 'WechatUnavailableError';
  readonly code = 'wechat_unavailable';
  override readonly retryable = true;
  constructor(
    readonly api: string,
    reason: string,
    options?: ErrorOptions
  ) {
    super(`WeChat ${api} unavailable: ${reason}`, options);
  }
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

/** Another refresher holds the lease and did not finish in the time we were willing to wait. */
export class RefreshInProgressError extends ServiceError {
  override readonly name = 'RefreshInProgressError';
  readonly code = 'refresh_in_progress';
  override readonly retryable = true;
}

/** The error's stable code, or `internal_error` for anything that is not ours. */
export function errorCode(error: unknown): string {
  return error instanceof ServiceError ? error.code : 'internal_error';
}
