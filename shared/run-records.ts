import type { EpochMs } from './clock';
import { errorCode } from './errors';
import type { RunJob, RunRecord } from './store/token-store';
import type { TokenContext } from './token-context';

/**
 * Keeps `summary` as the last run of `job`, for `status`. Never fails the run: an operator's view is not
 * worth a failed schedule (the run's own log line has the same summary).
 */
export async function recordRun(ctx: TokenContext, job: RunJob, summary: object): Promise<void> {
  const record: RunRecord = {
    componentAppId: ctx.componentAppId,
    job,
    finishedAt: ctx.clock(),
    summary: JSON.stringify(summary),
  };
  await ctx.store.putRunRecord(record).catch((error: unknown) =>
    ctx.log.warn('could not record the run for the operators’ status', {
      job,
      code: errorCode(error),
    })
  );
}

/** The last run of `job` as {@link recordRun} kept it: when it finished and its summary. */
export async function readRun(
  ctx: TokenContext,
  job: RunJob
): Promise<{ finishedAt: EpochMs; summary: Record<string, unknown> } | undefined> {
  const record = await ctx.store.getRunRecord(ctx.componentAppId, job);
  if (!record) return undefined;
  return {
    finishedAt: record.finishedAt,
    summary: JSON.parse(record.summary) as Record<string, unknown>,
  };
}
