import type { Context } from 'aws-lambda';
import {
  reconcileAndRecord,
  retryIncompleteReconciliation,
} from '../shared/authorization/reconcile-runs';
import { ServiceError } from '../shared/errors';
import {
  type JobError,
  type OperatorJob,
  parseRefreshJob,
  type RefreshJob,
} from '../shared/jobs/job-contract';
import { runOperatorJob } from '../shared/jobs/run-operator-job';
import { runScheduledRefresh } from '../shared/jobs/scheduled-refresh';
import { checkWechatQuotaIfDue } from '../shared/jobs/wechat-quota';
import { sendReleaseCheckReply } from '../shared/messages/release-check-reply';
import { recordRun } from '../shared/run-records';
import { forInvocation } from './lib/deadline';
import { type Deps, type GetDeps, getDeps } from './lib/deps';
import { inLambda, invoked } from './lib/invoked';

/** Thrown after the summary is logged, so the invocation fails and the refresh alarms fire. */
export class SystemicRefreshError extends ServiceError {
  override readonly name = 'SystemicRefreshError';
  readonly code = 'refresh_systemic_failure';
}

/** A refused job's answer; the refusal is logged by its code, never with the payload. */
function refused(d: Deps, error: ServiceError, job: string | undefined): JobError {
  d.log.info('operator job refused', { job, code: error.code });
  return { error: { code: error.code, message: error.message } };
}

/** An operator job's answer, or its coded error; anything that is not a `ServiceError` still fails. */
async function operate(d: Deps, job: OperatorJob) {
  try {
    return await runOperatorJob(d, job);
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    return refused(d, error, job.job);
  }
}

/**
 * The scheduled refresh (EventBridge, every 5 minutes): ticket age, component token, every due authorizer,
 * pending authorization codes, and a reconciliation that did not complete last time, within the invocation's
 * remaining time. Returns and logs a summary, keeps it for the operators' `status`, and fails the invocation
 * when the platform itself is misconfigured (61004 whitelist, bad credentials).
 *
 * With `{"job":"reconcile"}` (a second schedule, every `RECONCILE_INTERVAL_HOURS`, or by hand after a table
 * restore) it instead reconciles the table with WeChat's authorizer list. The operator jobs (`status`,
 * `list`, `show`, `refresh`: `shared/jobs/job-contract.ts`) answer their result or
 * `{"error":{"code","message"}}`, as does a malformed payload.
 */
export const createHandler =
  (deps: GetDeps) =>
  async (event: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => {
    const remaining = context?.getRemainingTimeInMillis?.() ?? 5 * 60_000;
    const d = forInvocation(await deps(), remaining);
    const deadline = d.clock() + remaining;
    let job: RefreshJob;
    try {
      job = parseRefreshJob(event);
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      return refused(d, error, undefined);
    }
    if (job.job === 'reconcile') return reconcileAndRecord(d, { deadline });
    if (job.job === 'release-check-reply') return sendReleaseCheckReply(d, d.relay, job);
    if (job.job !== 'sweep') return operate(d, job);
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
    await recordRun(d, 'refresh', summary);
    if (summary.systemicError) {
      throw new SystemicRefreshError(
        `scheduled refresh stopped: ${summary.systemicError} (see the whitelist/credentials runbook)`
      );
    }
    await retryIncompleteReconciliation(d, { deadline });
    await checkWechatQuotaIfDue(d);
    return summary;
  };

/** The handler wrapped in middy, for Lambda and the sandbox alike. */
export const makeHandler = (deps: GetDeps) => invoked(createHandler(deps));

export const handler = inLambda(makeHandler(getDeps));
