import { AuthorizerNotFoundError, RefreshInProgressError } from '../errors';
import { OPERATOR_READ_BUDGET_MS, promisedExpiry } from '../policy';
import { reportWechatFailure } from '../report-wechat-failure';
import { readRun } from '../run-records';
import { assertActive, refreshAuthorizerNow } from '../serving/authorizer-tokens';
import { ticketUsable } from '../serving/component-token';
import { fallbackToken } from '../serving/servable-token';
import type { AuthorizerRecord, AuthorizerSummary, RunJob } from '../store/token-store';
import { type TokenContext, withLogContext } from '../token-context';
import {
  AUTHORIZER_STATES,
  type AuthorizerView,
  type LastRun,
  LIST_DEFAULT_LIMIT,
  LIST_MAX_LIMIT,
  type ListAnswer,
  type OperatorJob,
  type RefreshAnswer,
  type ShowAnswer,
  type StatusAnswer,
} from './job-contract';

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** When this job stops reading the table and answers with a cursor: its read budget or its deadline. */
const readUntil = (ctx: TokenContext, now: number) =>
  Math.min(now + OPERATOR_READ_BUDGET_MS, ctx.deadline ?? Number.POSITIVE_INFINITY);

/** The stored token's promise to a caller served at `now`, for an authorizer that has one. */
function promisedAt(
  record: Pick<AuthorizerRecord, 'status' | 'expiresAt' | 'refreshAt'>,
  now: number
): number | undefined {
  if (record.status !== 'active' || record.expiresAt === undefined) return undefined;
  return promisedExpiry({ expiresAt: record.expiresAt, refreshAt: record.refreshAt }, now);
}

/** What operators see of an authorizer: its state and times, never a token. */
export function authorizerView(record: AuthorizerSummary, now: number): AuthorizerView {
  const active = record.status === 'active';
  return {
    authorizerAppId: record.authorizerAppId,
    status: record.status,
    permissions: [...record.funcInfo],
    authorizedAt: record.authorizedAt ? iso(record.authorizedAt) : null,
    lastRefreshAt: iso(record.issuedAt),
    nextRefreshAt: active ? iso(record.refreshAt) : null,
    expiresAt: iso(promisedAt(record, now)),
    lastErrorCode: record.lastErrorCode ?? null,
    endedAt: iso(record.endedAt),
    updatedAt: iso(record.updatedAt),
  };
}

async function lastRun(ctx: TokenContext, job: RunJob): Promise<LastRun | null> {
  const run = await readRun(ctx, job);
  return run ? { finishedAt: iso(run.finishedAt) as string, summary: run.summary } : null;
}

/** Authorizers by state, from `cursor` on, until the table ends or the read budget is spent. */
async function countAuthorizers(
  ctx: TokenContext,
  cursor: string | undefined,
  stopAt: number
): Promise<StatusAnswer['authorizers']> {
  const counts = {
    total: 0,
    ...Object.fromEntries(AUTHORIZER_STATES.map((state) => [state, 0])),
  } as StatusAnswer['authorizers'];
  let next = cursor;
  do {
    const page = await ctx.store.listAuthorizers(ctx.componentAppId, {
      limit: LIST_MAX_LIMIT,
      ...(next ? { cursor: next } : {}),
    });
    for (const item of page.items) {
      counts[item.status] += 1;
      counts.total += 1;
    }
    next = page.cursor;
  } while (next && ctx.clock() < stopAt);
  return next ? { ...counts, cursor: next } : counts;
}

/**
 * The platform at a glance: the ticket's age, the component token's promised life left, authorizers by
 * state (partial, with a cursor, when the table takes longer than the read budget), the last runs of the
 * two schedules and the last check of WeChat's quotas.
 */
export async function platformStatus(
  ctx: TokenContext,
  options: { cursor?: string } = {}
): Promise<StatusAnswer> {
  const now = ctx.clock();
  const c = ctx.componentAppId;
  const [ticket, component, lastRefresh, lastReconcile, lastQuota] = await Promise.all([
    ctx.store.getTicket(c),
    ctx.store.getComponentToken(c),
    lastRun(ctx, 'refresh'),
    lastRun(ctx, 'reconcile'),
    lastRun(ctx, 'quota'),
  ]);
  const componentExpiry =
    component?.accessToken && component.expiresAt !== undefined
      ? promisedExpiry({ expiresAt: component.expiresAt, refreshAt: component.refreshAt }, now)
      : undefined;
  return {
    now: iso(now) as string,
    componentAppId: c,
    ticket: ticket
      ? {
          createdAt: iso(ticket.createTime) as string,
          receivedAt: iso(ticket.receivedAt) as string,
          ageSeconds: Math.round((now - ticket.createTime) / 1000),
          usable: ticketUsable(ticket, now),
        }
      : null,
    componentToken: component
      ? {
          lastRefreshAt: iso(component.issuedAt),
          nextRefreshAt: iso(component.refreshAt),
          expiresAt: iso(componentExpiry),
          secondsLeft: Math.max(0, Math.floor(((componentExpiry ?? now) - now) / 1000)),
          lastErrorCode: component.lastErrorCode ?? null,
        }
      : null,
    authorizers: await countAuthorizers(ctx, options.cursor, readUntil(ctx, now)),
    lastRefresh,
    lastReconcile,
    lastQuota,
  };
}

/** One page of authorizers: up to `limit`, fewer when the read budget is spent first (with a cursor). */
export async function listAuthorizerViews(
  ctx: TokenContext,
  job: Extract<OperatorJob, { job: 'list' }>
): Promise<ListAnswer> {
  const now = ctx.clock();
  const stopAt = readUntil(ctx, now);
  const limit = job.limit ?? LIST_DEFAULT_LIMIT;
  const items: AuthorizerSummary[] = [];
  let cursor = job.cursor;
  do {
    const page = await ctx.store.listAuthorizers(ctx.componentAppId, {
      limit: limit - items.length,
      ...(job.state ? { status: job.state } : {}),
      ...(cursor ? { cursor } : {}),
    });
    items.push(...page.items);
    cursor = page.cursor;
  } while (cursor && items.length < limit && ctx.clock() < stopAt);
  return {
    now: iso(now) as string,
    authorizers: items.map((item) => authorizerView(item, now)),
    ...(cursor ? { cursor } : {}),
  };
}

/**
 * One authorizer. Its access token only with `reveal`, and only one that may be served now (the promise in
 * `expiresAt`); the reveal is logged (never the token). The refresh token is never shown.
 *
 * @throws AuthorizerNotFoundError
 */
export async function showAuthorizer(
  ctx: TokenContext,
  job: Extract<OperatorJob, { job: 'show' }>
): Promise<ShowAnswer> {
  const now = ctx.clock();
  const record = await ctx.store.getAuthorizer(ctx.componentAppId, job.authorizerAppId);
  if (!record) throw new AuthorizerNotFoundError(job.authorizerAppId);
  const answer: ShowAnswer = { now: iso(now) as string, authorizer: authorizerView(record, now) };
  if (!job.reveal) return answer;
  const token = fallbackToken(record, now);
  if (token) {
    ctx.log.warn('an operator revealed an authorizer access token', {
      job: 'show',
      authorizerAppId: job.authorizerAppId,
    });
  }
  return { ...answer, accessToken: token?.accessToken ?? null };
}

/**
 * Renews one authorizer's access token now (`refreshAuthorizerNow`): one `api_authorizer_token` call through
 * the lease, logged; a failure is logged like the sweep's and recorded on the authorizer. Every line of the
 * job, the renewal's included, carries `job` and `authorizerAppId`.
 *
 * @throws AuthorizerNotFoundError / AuthorizerRevokedError / NeedsReauthorizationError /
 *   AuthorizerWithoutApiPermissionError for an authorizer that has no token to renew.
 * @throws RefreshInProgressError when another refresher holds the lease.
 * @throws the renewal's error (`wechat_*`, `ticket_unavailable`, …).
 */
export async function refreshAuthorizerByOperator(
  jobCtx: TokenContext,
  authorizerAppId: string
): Promise<RefreshAnswer> {
  const ctx = withLogContext(jobCtx, { job: 'refresh', authorizerAppId });
  const read = () => ctx.store.getAuthorizer(ctx.componentAppId, authorizerAppId);
  assertActive(await read(), authorizerAppId);
  let outcome: Awaited<ReturnType<typeof refreshAuthorizerNow>>;
  try {
    outcome = await refreshAuthorizerNow(ctx, authorizerAppId);
  } catch (error) {
    reportWechatFailure(ctx, error);
    throw error;
  }
  if (outcome === 'busy') {
    throw new RefreshInProgressError(
      `another refresh of ${authorizerAppId} holds its lease; try again in a few seconds`
    );
  }
  const record = await read();
  assertActive(record, authorizerAppId);
  ctx.log.info('an operator renewed an authorizer access token');
  const now = ctx.clock();
  return {
    now: iso(now) as string,
    outcome: outcome === 'kept' ? 'kept' : 'refreshed',
    authorizer: authorizerView(record as AuthorizerRecord, now),
  };
}

/** Runs one operator job (`job-contract.ts`). */
export function runOperatorJob(
  ctx: TokenContext,
  job: OperatorJob
): Promise<StatusAnswer | ListAnswer | ShowAnswer | RefreshAnswer> {
  switch (job.job) {
    case 'status':
      return platformStatus(ctx, job);
    case 'list':
      return listAuthorizerViews(ctx, job);
    case 'show':
      return showAuthorizer(ctx, job);
    case 'refresh':
      return refreshAuthorizerByOperator(ctx, job.authorizerAppId);
  }
}
