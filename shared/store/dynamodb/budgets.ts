/**
 * The budgets of WeChat calls the public page routes may spend. A count is one item per window, raised by one
 * atomic conditional `UpdateItem` (`used < limit`), so callers in any number of Lambda containers never count
 * past the limit together, with no transaction and no read first (docs/deploy.md, "Budgets: WeChat quota strangers
 * cannot spend").
 */
import { TABLE_SCHEMA } from '../table-schema';
import type { BudgetWindow } from '../token-store';
import { key } from './items';
import { applied, type Table } from './table';

/** A budget count is useless once its window closed; an hour later DynamoDB's TTL may remove it. */
const BUDGET_RETENTION_SECONDS = 3600;

/** Counts one use in `window` unless `limit` uses are counted there already; true when counted. */
export async function spendBudget(
  table: Table,
  window: BudgetWindow,
  limit: number
): Promise<boolean> {
  return applied(
    table.update({
      Key: { pk: key.budget(window) },
      UpdateExpression: 'SET #used = if_not_exists(#used, :zero) + :one, #ttl = :ttl',
      ConditionExpression: 'attribute_not_exists(#used) OR #used < :limit',
      ExpressionAttributeNames: { '#used': 'used', '#ttl': TABLE_SCHEMA.ttlAttribute },
      ExpressionAttributeValues: {
        ':zero': 0,
        ':one': 1,
        ':limit': limit,
        ':ttl': Math.ceil(window.endsAt / 1000) + BUDGET_RETENTION_SECONDS,
      },
    })
  );
}
