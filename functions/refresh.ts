import type { Context } from 'aws-lambda';
import { ServiceError } from '../shared/errors';
import { reconcileAuthorizers } from '../shared/tokens/reconcile';
import { runScheduledRefresh } from '../shared/tokens/scheduled-refresh';
import { forInvocation } from './lib/deadline';
import { type GetDeps, getDeps } from './lib/deps';
import { inLambda, invoked } from './lib/invoked';

/** Thrown after the summary is logged, so the invocation fails and the refresh alarms fire. */
export class SystemicRefreshError extends ServiceError {
  override readonly name = 'SystemicRefreshError';
  readonly code = 'refresh_systemic_failure';
}

/**
 * The scheduled refresh (EventBridge, every 5 minutes): ticket age, component token, every due authorizer,
 * pending authorization codes, within the invocation's remaining time. Returns and logs a summary; fails the
 * invocation when the platform itself is misconfigured (61004 whitelist, bad credentials).
 *
 * With `{"job":"reconcile"}` (a second schedule, every `RECONCILE_INTERVAL_HOURS`, or by hand after a table
 * restore) it instead reconciles the table with WeChat's authorizer list.
 */
export const createHandler =
  (deps: GetDeps) =>
  async (event: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => {
    const remaining = context?.getRemainingTimeInMillis?.() ?? 5 * 60_000;
    const d = forInvocation(await deps(), remaining);
    const deadline = d.clock() + remaining;
    if ((event as { job?: unknown } | null)?.job === 'reconcile') {
      const reconciled = await reconcileAuthorizers(d, { deadline });
      d.log.info('authorizer reconciliation finished', { ...reconciled });
      return reconciled;
    }
    const summary = await runScheduledRefresh(d, { deadline });
    const { failed, ...counts } = summary.authorizers;
    const log = summary.systemicError ? d.log.error : d.log.info;
    log('scheduled refresh finished', {
      component: summary.component,
      ticketAgeSeconds: summary.ticket.ageSeconds,
      ticketUsable: summary.ticket.usable,
      ...counts,
      failed: Object.entries(failed)
        .map(([code, count]) => `${code}:${count}`)
        .join(','),
      codesExchanged: summary.authCodes.exchanged,
      codesExpired: summary.authCodes.expired,
      codesPending: summary.authCodes.pending,
      systemicError: summary.systemicError,
      durationMs: summary.durationMs,
    });
    if (summary.systemicError) {
      throw new SystemicRefreshError(
        `scheduled refresh stopped: ${summary.systemicError} (see the whitelist/credentials runbook)`
      );
    }
    return summary;
  };

/** The handler wrapped in middy, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) => invoked(createHandler(deps));

export const handler = inLambda(makeHandler(getDeps));
