/**
 * Lifecycle events written with the state change they report: the change's own `UpdateItem` appends the
 * event to the authorizer item's `pendingEvents`, so the two cannot part (the table has no transactions
 * here: dynalite has none). The outbox (`shared/events/outbox.ts`) then records each one and takes it off
 * the item; one whose writer stopped first is found again by the retried push or the scheduled
 * reconciliation's Scan.
 *
 * @see https://docs.aws.amazon.com/prescriptive-guidance/latest/cloud-design-patterns/transactional-outbox.html
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError } from '../../errors';
import type { AuthorizerRecord, Page, PendingEvent } from '../token-store';
import { encodeKey, scanStartKey } from './authorizer-scan';
import { type Item, key, strip } from './items';
import type { Table } from './table';

/** The `SET` clause, names and values that append `event` to the item's pending events (none: nothing). */
export function appendPendingEvent(event: PendingEvent | undefined): {
  clauses: string[];
  names: Record<string, string>;
  values: Record<string, unknown>;
} {
  if (!event) return { clauses: [], names: {}, values: {} };
  return {
    clauses: ['#pendingEvents = list_append(if_not_exists(#pendingEvents, :noEvents), :event)'],
    names: { '#pendingEvents': 'pendingEvents' },
    values: { ':noEvents': [], ':event': [event] },
  };
}

/** Removes the pending event `id` from the item, by its index, checked; a no-op when it is gone. */
export async function settlePendingEvent(
  table: Table,
  componentAppId: string,
  authorizerAppId: string,
  id: string
): Promise<void> {
  const pk = key.authorizer(componentAppId, authorizerAppId);
  for (let attempt = 0; attempt < 3; attempt++) {
    const item = await table.get(pk);
    const index = ((item?.pendingEvents ?? []) as PendingEvent[]).findIndex((e) => e.id === id);
    if (index < 0) return;
    try {
      await table.update({
        Key: { pk },
        UpdateExpression: `REMOVE #pendingEvents[${index}]`,
        ConditionExpression: `#pendingEvents[${index}].#id = :id`,
        ExpressionAttributeNames: { '#pendingEvents': 'pendingEvents', '#id': 'id' },
        ExpressionAttributeValues: { ':id': id },
      });
      return;
    } catch (error) {
      // Another settle moved the list meanwhile: read it again.
      if (!(error instanceof ConcurrentUpdateError)) throw error;
    }
  }
}

/** Authorizer items whose pending events were never moved to the outbox, a bounded Scan page at a time. */
export async function listAuthorizersWithPendingEvents(
  table: Table,
  componentAppId: string,
  options: { limit: number; cursor?: string }
): Promise<Page<AuthorizerRecord>> {
  const result = await table.send(
    new ScanCommand({
      TableName: table.name,
      FilterExpression: 'begins_with(pk, :prefix) AND size(#pendingEvents) > :zero',
      ExpressionAttributeNames: { '#pendingEvents': 'pendingEvents' },
      ExpressionAttributeValues: { ':prefix': key.authorizer(componentAppId, ''), ':zero': 0 },
      Limit: options.limit,
      ExclusiveStartKey: scanStartKey(options.cursor),
    })
  );
  const last = result.LastEvaluatedKey as Item | undefined;
  return {
    items: ((result.Items ?? []) as Item[]).map(
      (item) => strip<AuthorizerRecord>(item) as AuthorizerRecord
    ),
    ...(last ? { cursor: encodeKey(last) } : {}),
  };
}
