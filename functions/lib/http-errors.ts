import {
  AppIdMismatchError,
  AuthCodeExpiredError,
  AuthorizerNotFoundError,
  AuthorizerRevokedError,
  ConfigError,
  InvalidRequestError,
  MalformedMessageError,
  NeedsReauthorizationError,
  PayloadTooLargeError,
  RefreshInProgressError,
  ServiceError,
  SignatureMismatchError,
  StoreUnavailableError,
  TicketUnavailableError,
  UpstreamUnavailableError,
  WechatApiError,
  WechatUnavailableError,
} from '../../shared/errors';

export interface HttpFailure {
  status: number;
  /** Safe to show: never a token, secret, auth code or WeChat's errmsg. */
  message: string;
  headers?: Record<string, string>;
}

const GENERIC = 'the service could not complete this request; try again later';

/**
 * The one table from domain errors to HTTP answers (conventions §2.5). Below 500 the error's own message is
 * shown (every domain message is written to be safe); from 500 up the caller gets a generic message.
 */
export function toHttpFailure(error: unknown): HttpFailure {
  if (error instanceof InvalidRequestError) return { status: 400, message: error.message };
  if (error instanceof MalformedMessageError) return { status: 400, message: error.message };
  if (error instanceof AppIdMismatchError) return { status: 400, message: error.message };
  if (error instanceof AuthCodeExpiredError) return { status: 400, message: error.message };
  if (error instanceof SignatureMismatchError) return { status: 401, message: error.message };
  if (error instanceof AuthorizerNotFoundError) return { status: 404, message: error.message };
  if (error instanceof AuthorizerRevokedError) return { status: 410, message: error.message };
  if (error instanceof NeedsReauthorizationError) return { status: 410, message: error.message };
  if (error instanceof PayloadTooLargeError) return { status: 413, message: error.message };
  if (error instanceof TicketUnavailableError) {
    return {
      status: 503,
      message: 'waiting for WeChat to push a component_verify_ticket; try again in a few minutes',
      headers: { 'retry-after': '300' },
    };
  }
  if (error instanceof WechatApiError && (error.kind === 'busy' || error.kind === 'quota')) {
    return {
      status: 503,
      message: 'WeChat is busy or the daily quota is used up; try again later',
      headers: { 'retry-after': error.kind === 'quota' ? '3600' : '30' },
    };
  }
  if (
    error instanceof WechatUnavailableError ||
    error instanceof UpstreamUnavailableError ||
    error instanceof RefreshInProgressError ||
    error instanceof StoreUnavailableError
  ) {
    return { status: 503, message: GENERIC, headers: { 'retry-after': '30' } };
  }
  if (error instanceof WechatApiError) return { status: 502, message: GENERIC };
  if (error instanceof ConfigError || error instanceof ServiceError) {
    return { status: 500, message: GENERIC };
  }
  return { status: 500, message: GENERIC };
}
