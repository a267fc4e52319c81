import {
  callerErrorCode,
  errorCode,
  JsapiTicketUnavailableError,
  UpstreamUnavailableError,
} from '../errors';
import { MetricName } from '../log';
import { refreshAtFor, TICKET_KEPT_FRESH_FOR_MS, TICKET_SERVED_NOTE_INTERVAL_MS } from '../policy';
import type { AuthorizerTicketRecord, AuthorizerTicketType } from '../store/token-store';
import type { TokenContext } from '../token-context';
import { assertActive } from './authorizer-tokens';
import type { IssuedToken } from './servable-token';
import {
  peekToken,
  type RefreshOutcome,
  refreshTokenIfDue,
  type ServeOptions,
  serveToken,
  type TokenKind,
} from './serve-token';
import { withAuthorizerToken } from './with-authorizer-token';

/**
 * A ticket record as the token rules (`serveToken`, `servable-token.ts`) read it: the ticket in
 * `accessToken`, so serving, the promise, the lease and the report limits are the tokens' own.
 */
type TicketView = AuthorizerTicketRecord & { accessToken?: string };

const asView = (record: AuthorizerTicketRecord | undefined): TicketView | undefined =>
  record && { ...record, accessToken: record.ticket };

/** Caller codes that say the authorizer cannot be served at all (`assertActive`'s errors). */
const AUTHORIZER_ENDED = new Set<string>([
  'authorizer_not_found',
  'authorizer_revoked',
  'needs_reauthorization',
  'authorizer_without_api_permission',
  'authorization_code_needed',
]);

/** Caller codes a failed ticket request answers as they are: the authorizer's state, the platform's. */
const ANSWERED_AS_IS = new Set<string>([
  ...AUTHORIZER_ENDED,
  'ticket_unavailable',
  'invalid_request',
  'jsapi_ticket_unavailable',
]);

/**
 * True when the error says the authorizer cannot be served at all (unknown, revoked, …): its tickets cannot
 * be renewed until it authorizes again, so the sweep stops renewing them.
 */
export function authorizerEnded(error: unknown): boolean {
  return AUTHORIZER_ENDED.has(callerErrorCode(error));
}

/**
 * The error a ticket request answers: the authorizer's and the platform's as they are, else the ticket's.
 * A renewal that failed on the authorizer's state is recorded as its code only (`failureFrom` then gives
 * `upstream_unavailable` to callers during the back-off): the authorizer is read again to answer its error.
 */
async function ticketFailure(
  ctx: TokenContext,
  authorizerAppId: string,
  error: unknown,
  type: AuthorizerTicketType
): Promise<unknown> {
  if (ANSWERED_AS_IS.has(callerErrorCode(error))) return error;
  const reason = error instanceof UpstreamUnavailableError ? error.reason : errorCode(error);
  if (AUTHORIZER_ENDED.has(reason)) {
    try {
      assertActive(
        await ctx.store.getAuthorizer(ctx.componentAppId, authorizerAppId),
        authorizerAppId
      );
    } catch (statusError) {
      return statusError;
    }
  }
  return new JsapiTicketUnavailableError(type, reason, { cause: error });
}

/**
 * Calls `getticket` with the authorizer's token (its own rules; a rejected token is renewed and the call
 * retried once: `withAuthorizerToken`) and saves the ticket as the lease holder `owner`. `servedAt`: the
 * renewal is made for a caller, who is served it now.
 */
async function fetchTicket(
  ctx: TokenContext,
  authorizerAppId: string,
  type: AuthorizerTicketType,
  owner: string,
  forcedAt: number | undefined,
  forCaller: boolean
): Promise<AuthorizerTicketRecord> {
  let requestedAt: number | undefined;
  const answer = await withAuthorizerToken(ctx, authorizerAppId, (token) => {
    requestedAt ??= ctx.clock();
    return ctx.api.getTicket(token, type);
  });
  const now = ctx.clock();
  const expiresAt = now + answer.expires_in * 1000;
  return ctx.store.saveAuthorizerTicket(
    ctx.componentAppId,
    authorizerAppId,
    type,
    owner,
    {
      ticket: answer.ticket,
      expiresAt,
      refreshAt: refreshAtFor(now, expiresAt),
      forcedAt,
      requestedAt,
      servedAt: forCaller ? now : undefined,
    },
    now
  );
}

/**
 * An authorizer's `getticket` ticket of `type` as a token kind (`TokenKind`): one record per authorizer and
 * type, renewed under its own lease (one `getticket` per renewal across all processes), served and promised
 * by the tokens' rules (WeChat keeps a superseded ticket 5 minutes, like a token).
 *
 * Two differences from the tokens, both deliberate:
 * - `check` reads nothing more: the hot path stays one read, so a stored ticket of an authorizer that
 *   revoked since is served until its promise ends; every renewal goes through the authorizer's token,
 *   whose rules throw the authorizer's status errors.
 * - no `probePath`: no call checks a ticket cheaply (only `getticket` itself, which replaces it), so a
 *   caller's `invalidTicket` report is never checked and renews only within the report limits
 *   (`forcesRefresh`: a ticket issued over a minute ago, at most one forced renewal an hour).
 *
 * `seen` receives the `servedAt` of the last record read or saved, so the serve path knows whether to note
 * the serve (`noteServed`).
 */
function ticketKind(
  ctx: TokenContext,
  authorizerAppId: string,
  type: AuthorizerTicketType,
  seen: { servedAt?: number },
  forCaller: boolean,
  prefetched?: { record: AuthorizerTicketRecord | undefined }
): TokenKind<TicketView> {
  let first = prefetched;
  return {
    ref: {
      kind: 'authorizer_ticket',
      componentAppId: ctx.componentAppId,
      authorizerAppId,
      type,
    },
    read: async () => {
      const record = first
        ? first.record
        : await ctx.store.getAuthorizerTicket(ctx.componentAppId, authorizerAppId, type);
      first = undefined;
      seen.servedAt = record?.servedAt;
      return asView(record);
    },
    check: () => undefined,
    renewable: () => true,
    renew: async (record, owner, leaseCtx, forced) => {
      const saved = await fetchTicket(
        leaseCtx,
        authorizerAppId,
        type,
        owner,
        forced ? leaseCtx.clock() : record?.forcedAt,
        forCaller
      );
      seen.servedAt = saved.servedAt;
      return { record: asView(saved) as TicketView, saved: true };
    },
    metrics: {
      succeeded: MetricName.JsapiTicketRefreshSucceeded,
      failed: MetricName.JsapiTicketRefreshFailed,
    },
    fields: { authorizerAppId, token: `${type}_ticket` },
  };
}

/**
 * Notes that the ticket was just served, unless a serve within `TICKET_SERVED_NOTE_INTERVAL_MS` is noted:
 * one write an hour per ticket, however often it is served. A failed note only costs the sweep's
 * knowledge, never the answer.
 */
async function noteServed(
  ctx: TokenContext,
  authorizerAppId: string,
  type: AuthorizerTicketType,
  lastNoted: number | undefined
): Promise<void> {
  const now = ctx.clock();
  if (lastNoted !== undefined && now - lastNoted < TICKET_SERVED_NOTE_INTERVAL_MS) return;
  try {
    await ctx.store.noteTicketServed(
      ctx.componentAppId,
      authorizerAppId,
      type,
      now,
      now - TICKET_SERVED_NOTE_INTERVAL_MS + 1
    );
  } catch (error) {
    ctx.log.warn('could not note that a ticket was served', {
      authorizerAppId,
      code: errorCode(error),
    });
  }
}

/**
 * An authorizer's ticket of `type` (`jsapi`: the JS-SDK `jsapi_ticket`; `wx_card`: the card `api_ticket`)
 * for a caller, by `serveToken`'s rules: the stored one while its promised life lasts (one read, plus a
 * note of the serve at most once an hour); otherwise, and on the first request (after a read of the
 * authorizer), one `getticket` through the lease, whatever the number of concurrent callers. `options.invalidToken` is the caller's
 * `invalidTicket`, renewed within the report limits only (see `ticketKind`).
 *
 * @throws the authorizer's status errors (not found, revoked, …) and TicketUnavailableError as they are.
 * @throws JsapiTicketUnavailableError when no ticket with promised life can be had (getticket failed, the
 *   authorizer token could not be had for it, or a report was refused by the limits).
 * @see https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/JS-SDK.html (appendix 1, 获取jsapi_ticket)
 */
export async function getAuthorizerTicket(
  ctx: TokenContext,
  authorizerAppId: string,
  type: AuthorizerTicketType,
  options: ServeOptions = {}
): Promise<IssuedToken> {
  const seen: { servedAt?: number } = {};
  let issued: IssuedToken;
  try {
    const stored = await ctx.store.getAuthorizerTicket(ctx.componentAppId, authorizerAppId, type);
    // No ticket yet (first use, or a first fetch that failed): the authorizer is checked before a lease
    // record is created for it, so unknown or ended authorizers leave nothing in the table.
    if (stored?.ticket === undefined) {
      assertActive(
        await ctx.store.getAuthorizer(ctx.componentAppId, authorizerAppId),
        authorizerAppId
      );
    }
    const kind = ticketKind(ctx, authorizerAppId, type, seen, true, { record: stored });
    issued = await serveToken(ctx, kind, options);
  } catch (error) {
    throw await ticketFailure(ctx, authorizerAppId, error, type);
  }
  await noteServed(ctx, authorizerAppId, type, seen.servedAt);
  return issued;
}

/** The stored ticket while it has promised life left, without renewing (a deadline's fallback). */
export function peekAuthorizerTicket(
  ctx: TokenContext,
  authorizerAppId: string,
  type: AuthorizerTicketType,
  invalidTicket?: string
): Promise<IssuedToken | undefined> {
  return peekToken(ctx, ticketKind(ctx, authorizerAppId, type, {}, true), invalidTicket);
}

/** Whether a caller was served the ticket within `TICKET_KEPT_FRESH_FOR_MS` (the sweep keeps it fresh). */
export function servedLately(record: AuthorizerTicketRecord, now: number): boolean {
  return record.servedAt !== undefined && record.servedAt >= now - TICKET_KEPT_FRESH_FOR_MS;
}

/**
 * Scheduled renewal of a ticket listed as due: renewed when its `refreshAt` has come, skipped (`busy`)
 * while another renewal holds its lease. Does not note a serve: only callers keep a ticket in use.
 *
 * @throws the renewal's error, after the lease was released with a retry time.
 */
export function refreshTicketIfDue(
  ctx: TokenContext,
  listed: AuthorizerTicketRecord
): Promise<RefreshOutcome> {
  return refreshTokenIfDue(
    ctx,
    ticketKind(ctx, listed.authorizerAppId, listed.type, {}, false),
    (record, now) => record?.refreshAt !== undefined && record.refreshAt <= now,
    asView(listed)
  );
}
