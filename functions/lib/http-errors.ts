import { errorCode, type ServiceErrorCode } from '../../shared/errors';

export interface HttpFailure {
  status: number;
  /** Safe to show: never a token, secret, auth code or WeChat's errmsg. */
  message: string;
  headers?: Record<string, string>;
}

const GENERIC = 'the service could not complete this request; try again later';
const RETRY_SOON = { 'retry-after': '30' };

/** How one error code is answered over HTTP; `message` replaces the error's own (shown below 500). */
interface Rule {
  status: number;
  message?: string;
  headers?: Record<string, string>;
}

const unavailable: Rule = { status: 503, message: GENERIC, headers: RETRY_SOON };
const badGateway: Rule = { status: 502, message: GENERIC };
const internal: Rule = { status: 500, message: GENERIC };

/**
 * The one table from error codes to HTTP answers (conventions §2.5), exhaustive over `ServiceErrorCode`
 * (a new code does not compile until it has a row). Below 500 the error's own message is shown (every
 * domain message is written to be safe); from 500 up the caller gets a generic message.
 */
const RULES: Record<ServiceErrorCode | 'internal_error', Rule> = {
  invalid_request: { status: 400 },
  malformed_message: { status: 400 },
  appid_mismatch: { status: 400 },
  auth_code_expired: { status: 400 },
  signature_mismatch: { status: 401 },
  authorizer_without_api_permission: { status: 403 },
  authorizer_not_found: { status: 404 },
  authorizer_revoked: { status: 410 },
  needs_reauthorization: { status: 410 },
  authorization_code_needed: { status: 409 },
  payload_too_large: { status: 413 },
  ticket_unavailable: {
    status: 503,
    message: 'waiting for WeChat to push a component_verify_ticket; try again in a few minutes',
    headers: { 'retry-after': '300' },
  },
  wechat_busy: {
    status: 503,
    message: 'WeChat is busy or the daily quota is used up; try again later',
    headers: RETRY_SOON,
  },
  wechat_quota: {
    status: 503,
    message: 'WeChat is busy or the daily quota is used up; try again later',
    headers: { 'retry-after': '3600' },
  },
  wechat_unavailable: unavailable,
  upstream_unavailable: unavailable,
  jsapi_ticket_unavailable: unavailable,
  refresh_in_progress: unavailable,
  store_unavailable: unavailable,
  message_unpublished: unavailable,
  auth_code_recovery_pending: unavailable,
  auth_code_awaiting_push: unavailable,
  refresh_token_unusable: unavailable,
  wechat_token_invalid: badGateway,
  wechat_ip_not_whitelisted: badGateway,
  wechat_ticket_invalid: badGateway,
  wechat_refresh_token_invalid: badGateway,
  wechat_auth_code_invalid: badGateway,
  wechat_not_authorized: badGateway,
  wechat_credentials_invalid: badGateway,
  wechat_unknown: badGateway,
  empty_credential: internal,
  concurrent_update: internal,
  config_invalid: internal,
  refresh_systemic_failure: internal,
  internal_error: internal,
};

/** The HTTP answer for any thrown value. */
export function toHttpFailure(error: unknown): HttpFailure {
  const rule = RULES[errorCode(error)];
  const message = rule.message ?? (error as Error).message;
  return rule.headers
    ? { status: rule.status, message, headers: rule.headers }
    : { status: rule.status, message };
}
