/**
 * The `component_verify_ticket` record. WeChat pushes a ticket every 10 minutes and retries pushes, in no
 * guaranteed order, so a ticket only replaces an older one (by WeChat's `CreateTime`): a late or replayed
 * push never brings back a ticket already superseded. The item outlives the ticket's 12 hours by the
 * retention period, then DynamoDB's TTL removes it.
 */
import { TICKET_LIFETIME_MS } from '../../policy';
import type { TicketRecord } from '../token-store';
import { key, RETENTION_SECONDS, strip } from './items';
import { applied, type Table } from './table';

export async function getTicket(
  table: Table,
  componentAppId: string
): Promise<TicketRecord | undefined> {
  return strip(await table.get(key.ticket(componentAppId)));
}

/** Stores the ticket unless one with the same or a newer `createTime` is there; true when stored. */
export async function putTicket(table: Table, record: TicketRecord): Promise<boolean> {
  return applied(
    table.put({
      Item: {
        pk: key.ticket(record.componentAppId),
        ...record,
        ttl: Math.floor((record.createTime + TICKET_LIFETIME_MS) / 1000) + RETENTION_SECONDS,
      },
      ConditionExpression: 'attribute_not_exists(pk) OR createTime < :createTime',
      ExpressionAttributeValues: { ':createTime': record.createTime },
    })
  );
}
