import { isAppId } from '../shared/config';
import {
  type CallerErrorCode,
  callerErrorCode,
  errorCode,
  InvalidRequestError,
  JsapiTicketUnavailableError,
  UpstreamUnavailableError,
} from '../shared/errors';
import { type TokenHandle, tokenHandle } from '../shared/serving/token-handle';
import type { AuthorizerTicketType } from '../shared/store/token-store';
import { answerWithin, forInvocation, type InvocationContext, workBudget } from './lib/deadline';
import { type Deps, type GetDeps, getDeps } from './lib/deps';
import { inLambda, invoked } from './lib/invoked';

/**
 * What a caller sends: one authorizer's token, the platform's own component token, or one of an
 * authorizer's `getticket` tickets (`jsapi`, `wx_card`), with the credential WeChat just refused when
 * there is one (`invalidToken` for a token, `invalidTicket` for a ticket).
 */
export type GetTokenRequest =
  | { authorizerAppId: string; invalidToken?: string }
  | { component: true; invalidToken?: string }
  | { authorizerAppId: string; ticket: AuthorizerTicketType; invalidTicket?: string };

/** What get-token answers; `expiresAt` is a promise (ISO 8601), see `createHandler`. */
export type GetTokenResponse =
  | { appId: string; accessToken: string; expiresAt: string }
  | { appId: string; ticket: string; expiresAt: string }
  | { error: { code: CallerErrorCode; message: string } };

const ALLOWED_KEYS = new Set([
  'authorizerAppId',
  'component',
  'invalidToken',
  'ticket',
  'invalidTicket',
]);
const TICKET_TYPES: readonly string[] = ['jsapi', 'wx_card'] satisfies AuthorizerTicketType[];

/** A reported credential: absent, or the non-empty string WeChat refused (at most 2 KB). */
function reported(body: Record<string, unknown>, field: 'invalidToken' | 'invalidTicket') {
  const value = body[field];
  if (
    value !== undefined &&
    (typeof value !== 'string' || value.length === 0 || value.length > 2048)
  ) {
    const what = field === 'invalidToken' ? 'token' : 'ticket';
    throw new InvalidRequestError(`${field} must be the non-empty ${what} WeChat rejected`);
  }
  return value === undefined ? {} : { [field]: value as string };
}

/** Validates the payload strictly: unknown keys, wrong types and placeholder values are refused. */
export function parseGetTokenRequest(event: unknown): GetTokenRequest {
  if (!event || typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidRequestError('the request must be a JSON object');
  }
  const keys = Object.keys(event);
  const unknown = keys.filter((key) => !ALLOWED_KEYS.has(key));
  if (unknown.length) {
    throw new InvalidRequestError(
      `unknown field(s): ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`
    );
  }
  const body = event as Record<string, unknown>;
  const token = reported(body, 'invalidToken');
  const ticketReport = reported(body, 'invalidTicket');
  if ('invalidToken' in token && 'invalidTicket' in ticketReport) {
    throw new InvalidRequestError('send either invalidToken or invalidTicket, not both');
  }
  if ('ticket' in body) {
    if (typeof body.ticket !== 'string' || !TICKET_TYPES.includes(body.ticket)) {
      throw new InvalidRequestError('ticket must be "jsapi" or "wx_card"');
    }
    if ('component' in body) {
      throw new InvalidRequestError('a ticket belongs to an authorizer: send authorizerAppId');
    }
    if ('invalidToken' in token) {
      throw new InvalidRequestError('report a rejected ticket as invalidTicket, not invalidToken');
    }
  } else if ('invalidTicket' in ticketReport) {
    throw new InvalidRequestError('invalidTicket goes with a ticket request ("ticket")');
  }
  if ('component' in body) {
    if (body.component !== true) throw new InvalidRequestError('component must be true');
    if ('authorizerAppId' in body) {
      throw new InvalidRequestError('send either authorizerAppId or component, not both');
    }
    return { component: true, ...token };
  }
  if (!isAppId(body.authorizerAppId)) {
    throw new InvalidRequestError(
      'authorizerAppId must be an appid (wx followed by letters and digits)'
    );
  }
  if ('ticket' in body) {
    return {
      authorizerAppId: body.authorizerAppId,
      ticket: body.ticket as AuthorizerTicketType,
      ...ticketReport,
    };
  }
  return { authorizerAppId: body.authorizerAppId, ...token };
}

/** The credential the request reports WeChat refused, if any. */
function reportedCredential(request: GetTokenRequest): string | undefined {
  return 'ticket' in request ? request.invalidTicket : request.invalidToken;
}

/** The stored token (or ticket) when the deadline comes before the refresh finished. */
async function fallback(d: Deps, token: TokenHandle, request: GetTokenRequest) {
  const stored = await token.peek(reportedCredential(request));
  if (!stored) {
    throw 'ticket' in request
      ? new JsapiTicketUnavailableError(request.ticket, 'deadline')
      : new UpstreamUnavailableError('deadline');
  }
  d.log.warn('answered with the stored token: the refresh did not finish before the deadline', {
    appId: token.appId,
  });
  return stored;
}

/**
 * get-token, invoked directly by callers (`lambda:InvokeFunction`, authorized by IAM): returns a valid
 * access token for one authorizer or for the platform, or an authorizer's `getticket` ticket (protocol
 * §12). The hot path is one DynamoDB read; a refresh happens only when the promised life is nearly over, on
 * a ticket's first request, or for the credential the caller reports WeChat just rejected (`invalidToken`,
 * `invalidTicket`), and then once across all concurrent callers.
 *
 * `expiresAt` is a promise: WeChat accepts the token until then (architecture §7). The answer always comes
 * before the invocation's deadline (`getRemainingTimeInMillis`): the still-valid token, or a coded error.
 * Errors are answered, not thrown, with a stable `code` from `CALLER_ERROR_CODES`.
 */
export const createHandler =
  (deps: GetDeps) =>
  async (event: unknown, context?: InvocationContext): Promise<GetTokenResponse> => {
    const budget = workBudget(context);
    let d: Deps | undefined;
    try {
      const request = parseGetTokenRequest(event);
      const ready = forInvocation(await deps(), budget);
      d = ready;
      const token = tokenHandle(ready, request);
      const reported = { invalidToken: reportedCredential(request) };
      const issued = await answerWithin(budget, token.serve(reported), () =>
        fallback(ready, token, request)
      );
      const expiresAt = new Date(issued.expiresAt).toISOString();
      return 'ticket' in request
        ? { appId: token.appId, ticket: issued.accessToken, expiresAt }
        : { appId: token.appId, accessToken: issued.accessToken, expiresAt };
    } catch (error) {
      const code = callerErrorCode(error);
      d ??= await deps().catch(() => undefined);
      const upstream = code === 'upstream_unavailable' || code === 'jsapi_ticket_unavailable';
      const fields = {
        code: errorCode(error),
        reason:
          error instanceof UpstreamUnavailableError || error instanceof JsapiTicketUnavailableError
            ? error.reason
            : undefined,
        errorName: upstream ? (error as Error | undefined)?.name : undefined,
      };
      if (upstream) d?.log.error('get-token failed', fields);
      else d?.log.info('get-token refused', fields);
      return {
        error:
          code === 'upstream_unavailable'
            ? { code, message: 'a token could not be obtained from WeChat just now; retry shortly' }
            : { code, message: (error as Error).message },
      };
    }
  };

/** The handler wrapped in middy, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) => invoked(createHandler(deps));

export const handler = inLambda(makeHandler(getDeps));
