/**
 * The two token records, the component token and the authorizer's tokens: reading them, the lease holder's
 * saves and the due listing the sweep renews from. A save is made only by the lease holder (`saveAsOwner`),
 * and an authorizer's only while it is still active and, when the caller says so, on the version the write
 * was decided on, so a renewal never overwrites a re-authorization or a revocation that landed meanwhile.
 * Every authorizer save puts it on its `due` shard (docs/performance.md, "Scaling the sweep").
 *
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-sharding.html
 */
import { CLEARED_BY_TOKEN_SAVE, tokenSaveFields } from '../record-rules';
import { authorizerDuePartitions } from '../table-schema';
import type {
  AuthorizerRecord,
  ComponentTokenRecord,
  DuePartition,
  Page,
  PendingEvent,
  TokenStore,
} from '../token-store';
import { key, strip } from './items';
import { saveAsOwner } from './leases';
import { appendPendingEvent } from './pending-events';
import { applied, type Table } from './table';

export async function getComponentToken(
  table: Table,
  componentAppId: string
): Promise<ComponentTokenRecord | undefined> {
  return strip(await table.get(key.componentToken(componentAppId)));
}

/**
 * The authorizer's record; undefined while there is none, or only the lease of a first code exchange
 * (`claim` on version 0: an item without `status`, which every writer of a new record may write over).
 */
export async function getAuthorizer(table: Table, componentAppId: string, authorizerAppId: string) {
  const record = strip<AuthorizerRecord>(
    await table.get(key.authorizer(componentAppId, authorizerAppId))
  );
  return record?.status === undefined ? undefined : record;
}

/** @throws ConcurrentUpdateError when `owner` no longer holds the lease. */
export async function saveComponentToken(
  table: Table,
  componentAppId: string,
  owner: string,
  token: Parameters<TokenStore['saveComponentToken']>[2],
  now: number
): Promise<ComponentTokenRecord> {
  return saveAsOwner<ComponentTokenRecord>(
    table,
    key.componentToken(componentAppId),
    owner,
    tokenSaveFields(token, now),
    [...CLEARED_BY_TOKEN_SAVE]
  );
}

/**
 * @throws ConcurrentUpdateError when `owner` lost the lease, the version moved or the authorizer is no
 *   longer active.
 */
export async function saveAuthorizerToken(
  table: Table,
  componentAppId: string,
  authorizerAppId: string,
  owner: string,
  token: Parameters<TokenStore['saveAuthorizerToken']>[3],
  now: number,
  expectedVersion?: number
): Promise<AuthorizerRecord> {
  const versionCheck = expectedVersion === undefined ? '' : ' AND #version = :expected';
  return saveAsOwner<AuthorizerRecord>(
    table,
    key.authorizer(componentAppId, authorizerAppId),
    owner,
    { ...tokenSaveFields(token, now), dueKey: key.dueAuthorizers(componentAppId, authorizerAppId) },
    [...CLEARED_BY_TOKEN_SAVE],
    {
      condition: `#status = :active${versionCheck}`,
      names: { '#status': 'status' },
      values: {
        ':active': 'active',
        ...(expectedVersion === undefined ? {} : { ':expected': expectedVersion }),
      },
    }
  );
}

/**
 * Replaces the refresh token of an active authorizer only if it is still `expected` (none, when undefined),
 * without the lease: a refresh token WeChat returned must never be lost. False when a re-authorization won.
 */
export async function replaceRefreshToken(
  table: Table,
  componentAppId: string,
  authorizerAppId: string,
  expected: string | undefined,
  refreshToken: string,
  now: number,
  extra: { authorizedAt?: number; funcInfo?: number[]; event?: PendingEvent } = {}
): Promise<boolean> {
  const { authorizedAt, funcInfo } = extra;
  const withEvent = appendPendingEvent(extra.event);
  const setAuthorizedAt =
    (authorizedAt === undefined ? '' : ', #authorizedAt = :authorizedAt') +
    (funcInfo === undefined ? '' : ', #funcInfo = :funcInfo');
  const setEvent = withEvent.clauses.map((clause) => `, ${clause}`).join('');
  return applied(
    table.update({
      Key: { pk: key.authorizer(componentAppId, authorizerAppId) },
      UpdateExpression: `SET #refreshToken = :refreshToken, #updatedAt = :now${setAuthorizedAt}${setEvent}`,
      ConditionExpression:
        expected === undefined
          ? '#status = :active AND attribute_not_exists(#refreshToken)'
          : '#status = :active AND #refreshToken = :expected',
      ExpressionAttributeNames: {
        '#refreshToken': 'refreshToken',
        '#updatedAt': 'updatedAt',
        '#status': 'status',
        ...(authorizedAt === undefined ? {} : { '#authorizedAt': 'authorizedAt' }),
        ...(funcInfo === undefined ? {} : { '#funcInfo': 'funcInfo' }),
        ...withEvent.names,
      },
      ExpressionAttributeValues: {
        ':refreshToken': refreshToken,
        ':now': now,
        ...(authorizedAt === undefined ? {} : { ':authorizedAt': authorizedAt }),
        ...(funcInfo === undefined ? {} : { ':funcInfo': funcInfo }),
        ...withEvent.values,
        ':active': 'active',
        ...(expected === undefined ? {} : { ':expected': expected }),
      },
    })
  );
}

/** The `due` partitions that together hold a platform's active authorizers: its shards, then the legacy one. */
export function duePartitions(componentAppId: string): DuePartition[] {
  return authorizerDuePartitions(componentAppId).map((id) => ({ componentAppId, id }));
}

export async function listDueAuthorizers(
  table: Table,
  partition: DuePartition,
  now: number,
  limit: number,
  cursor?: string
): Promise<Page<AuthorizerRecord>> {
  const result = await table.queryDue(partition.id, now, limit, cursor);
  return {
    items: result.items.map((item) => strip<AuthorizerRecord>(item) as AuthorizerRecord),
    cursor: result.cursor,
  };
}
