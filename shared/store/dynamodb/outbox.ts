/**
 * The lifecycle events' outbox items. An event is recorded once, keyed by its id (a change recorded twice is
 * published once), is on the `due` index while unpublished, and leaves it for good when published; DynamoDB's
 * TTL then removes it after the retention period. A failed publish only moves its next attempt, and never
 * brings back an event a concurrent publish got through (docs/events.md, "Lifecycle events").
 *
 * @see https://docs.aws.amazon.com/prescriptive-guidance/latest/cloud-design-patterns/transactional-outbox.html
 */
import { TABLE_SCHEMA } from '../table-schema';
import type { OutboxEventRecord } from '../token-store';
import { key, RETENTION_SECONDS, update } from './items';
import { applied, type Table } from './table';

/** Records an unpublished event, due from `publishAt`; false when an event with this id is recorded. */
export async function putOutboxEvent(
  table: Table,
  record: Omit<OutboxEventRecord, 'attempts' | 'publishedAt' | 'lastError' | 'publishAt'> & {
    publishAt: number;
  }
): Promise<boolean> {
  const { publishAt, ...fields } = record;
  // UpdateItem, not PutItem: every function that may record an event already holds UpdateItem.
  const u = update({
    ...fields,
    attempts: 0,
    dueKey: key.dueOutboxEvents(record.componentAppId),
    refreshAt: publishAt,
  });
  return applied(
    table.update({
      Key: { pk: key.outboxEvent(record.componentAppId, record.id) },
      UpdateExpression: u.UpdateExpression,
      ExpressionAttributeNames: u.ExpressionAttributeNames,
      ExpressionAttributeValues: u.values,
      ConditionExpression: 'attribute_not_exists(pk)',
    })
  );
}

/** Unpublished events whose `publishAt <= now`, oldest first, from the `due` index. */
export async function listDueOutboxEvents(
  table: Table,
  componentAppId: string,
  now: number,
  limit: number
): Promise<OutboxEventRecord[]> {
  const result = await table.queryDue(key.dueOutboxEvents(componentAppId), now, limit);
  return result.items.map(({ pk: _pk, dueKey: _dueKey, ttl: _ttl, refreshAt, ...rest }) => ({
    ...(rest as Omit<OutboxEventRecord, 'publishAt'>),
    publishAt: refreshAt as number,
  }));
}

/** Takes the event off the due list for good; a no-op when it is unknown. */
export async function markOutboxEventPublished(
  table: Table,
  componentAppId: string,
  id: string,
  now: number
): Promise<void> {
  const u = update(
    { publishedAt: now, [TABLE_SCHEMA.ttlAttribute]: Math.floor(now / 1000) + RETENTION_SECONDS },
    ['dueKey', 'refreshAt']
  );
  await applied(
    table.update({
      Key: { pk: key.outboxEvent(componentAppId, id) },
      UpdateExpression: u.UpdateExpression,
      ExpressionAttributeNames: u.ExpressionAttributeNames,
      ExpressionAttributeValues: u.values,
      ConditionExpression: 'attribute_exists(pk)',
    })
  );
}

/** Counts a failed attempt and moves the next one to `retryAt`; a no-op once the event was published. */
export async function deferOutboxEvent(
  table: Table,
  componentAppId: string,
  id: string,
  failure: { retryAt: number; error: string }
): Promise<void> {
  const u = update(
    { refreshAt: failure.retryAt, lastError: failure.error },
    [],
    ['#attempts = #attempts + :one']
  );
  await applied(
    table.update({
      Key: { pk: key.outboxEvent(componentAppId, id) },
      UpdateExpression: u.UpdateExpression,
      ExpressionAttributeNames: { ...u.ExpressionAttributeNames, '#attempts': 'attempts' },
      ExpressionAttributeValues: { ...u.values, ':one': 1 },
      ConditionExpression: 'attribute_exists(dueKey)',
    })
  );
}
