/**
 * The authorizers' `getticket` tickets (`jsapi`, `wx_card`; protocol §12), one item per authorizer and type.
 * Only the lease holder writes a ticket (`saveAsOwner`), as for the component token: one `getticket` per
 * renewal across all processes. A save puts the item on its `due` shard; the sweep takes it off
 * (`retireTicket`) once nobody was served it lately, and a note of the last serve (`noteTicketServed`)
 * is written at most once per interval, by one of the concurrent callers (a conditional write).
 *
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.OnDemandCapacityMode.html
 */
import { CLEARED_BY_TOKEN_SAVE, tokenSaveFields } from '../record-rules';
import { ticketDuePartitions as duePartitionIds, TABLE_SCHEMA } from '../table-schema';
import type {
  AuthorizerTicketRecord,
  AuthorizerTicketType,
  DuePartition,
  Page,
  TokenStore,
} from '../token-store';
import { key, RETENTION_SECONDS, strip } from './items';
import { saveAsOwner } from './leases';
import { applied, type Table } from './table';

export async function getAuthorizerTicket(
  table: Table,
  componentAppId: string,
  authorizerAppId: string,
  type: AuthorizerTicketType
): Promise<AuthorizerTicketRecord | undefined> {
  return strip(await table.get(key.authorizerTicket(componentAppId, authorizerAppId, type)));
}

/**
 * Saves a new ticket as the lease holder, on its `due` shard, with no TTL (a retired item that is
 * renewed again is kept).
 *
 * @throws ConcurrentUpdateError when `owner` no longer holds the lease.
 */
export function saveAuthorizerTicket(
  table: Table,
  componentAppId: string,
  authorizerAppId: string,
  type: AuthorizerTicketType,
  owner: string,
  ticket: Parameters<TokenStore['saveAuthorizerTicket']>[4],
  now: number
): Promise<AuthorizerTicketRecord> {
  return saveAsOwner<AuthorizerTicketRecord>(
    table,
    key.authorizerTicket(componentAppId, authorizerAppId, type),
    owner,
    {
      ...tokenSaveFields(ticket, now),
      dueKey: key.dueTickets(componentAppId, authorizerAppId),
    },
    [...CLEARED_BY_TOKEN_SAVE, TABLE_SCHEMA.ttlAttribute]
  );
}

/** Notes a serve at `servedAt` unless one at or after `notBefore` is noted; false when not written. */
export function noteTicketServed(
  table: Table,
  componentAppId: string,
  authorizerAppId: string,
  type: AuthorizerTicketType,
  servedAt: number,
  notBefore: number
): Promise<boolean> {
  return applied(
    table.update({
      Key: { pk: key.authorizerTicket(componentAppId, authorizerAppId, type) },
      UpdateExpression: 'SET #servedAt = :servedAt',
      ConditionExpression:
        'attribute_exists(pk) AND (attribute_not_exists(#servedAt) OR #servedAt < :notBefore)',
      ExpressionAttributeNames: { '#servedAt': 'servedAt' },
      ExpressionAttributeValues: { ':servedAt': servedAt, ':notBefore': notBefore },
    })
  );
}

export function ticketDuePartitions(componentAppId: string): DuePartition[] {
  return duePartitionIds(componentAppId).map((id) => ({ componentAppId, id }));
}

export async function listDueTickets(
  table: Table,
  partition: DuePartition,
  now: number,
  limit: number,
  cursor?: string
): Promise<Page<AuthorizerTicketRecord>> {
  const result = await table.queryDue(partition.id, now, limit, cursor);
  return {
    items: result.items.map(
      (item) => strip<AuthorizerTicketRecord>(item) as AuthorizerTicketRecord
    ),
    cursor: result.cursor,
  };
}

/**
 * Takes the ticket off the `due` index unless it was served at or after `servedBefore` (`ticketRetirable`,
 * here as the write's condition so a serve noted meanwhile wins); DynamoDB's TTL removes the item a
 * retention period after its ticket expired.
 */
export function retireTicket(
  table: Table,
  componentAppId: string,
  authorizerAppId: string,
  type: AuthorizerTicketType,
  servedBefore: number,
  now: number
): Promise<boolean> {
  return applied(
    table.update({
      Key: { pk: key.authorizerTicket(componentAppId, authorizerAppId, type) },
      UpdateExpression: 'SET #ttl = :ttl, #updatedAt = :now REMOVE #dueKey',
      ConditionExpression:
        'attribute_exists(pk) AND (attribute_not_exists(#servedAt) OR #servedAt < :servedBefore)',
      ExpressionAttributeNames: {
        '#ttl': TABLE_SCHEMA.ttlAttribute,
        '#updatedAt': 'updatedAt',
        '#dueKey': TABLE_SCHEMA.dueIndex.partitionKey,
        '#servedAt': 'servedAt',
      },
      ExpressionAttributeValues: {
        ':ttl': Math.floor(now / 1000) + RETENTION_SECONDS,
        ':now': now,
        ':servedBefore': servedBefore,
      },
    })
  );
}
