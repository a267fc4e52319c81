/**
 * The last-run records (`COMPONENT#<appid>#LAST_RUN#refresh|reconcile`): each scheduled job keeps its
 * summary at its end, and the operators' `status` and the next sweeps read it. Runs may overlap, so a record
 * only replaces one of a run that finished earlier: the kept summary is always the latest run's (docs/operations.md,
 * "Operations CLI").
 */
import type { RunJob, RunRecord } from '../token-store';
import { key, strip } from './items';
import { applied, type Table } from './table';

/** Keeps `record` as its job's last run unless a run that finished later is kept; true when kept. */
export async function putRunRecord(table: Table, record: RunRecord): Promise<boolean> {
  return applied(
    table.put({
      Item: { pk: key.run(record.componentAppId, record.job), ...record },
      ConditionExpression: 'attribute_not_exists(pk) OR finishedAt < :finishedAt',
      ExpressionAttributeValues: { ':finishedAt': record.finishedAt },
    })
  );
}

export async function getRunRecord(
  table: Table,
  componentAppId: string,
  job: RunJob
): Promise<RunRecord | undefined> {
  return strip<RunRecord>(await table.get(key.run(componentAppId, job)));
}
