import { createHash } from 'node:crypto';
import { DUE_INDEX_SHARDS } from '../policy';

/**
 * The token table's physical schema, in one place. The DynamoDB adapter, the sandbox and the tests create
 * the table from `tokenTableDefinition()`; the CDK construct declares the same keys and a test checks that the
 * two agree (infra imports no runtime code).
 */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  ttlAttribute: 'ttl',
  dueIndex: {
    name: 'due',
    partitionKey: 'dueKey',
    sortKey: 'refreshAt',
  },
} as const;

/**
 * The shard of an authorizer on the `due` index: the first four bytes of the SHA-1 of its appid, modulo
 * `shards`. Stable across runs, processes and releases, and even for appids that differ in one character
 * (accounts authorized together).
 */
export function dueShard(authorizerAppId: string, shards: number = DUE_INDEX_SHARDS): number {
  return createHash('sha1').update(authorizerAppId).digest().readUInt32BE(0) % shards;
}

const shardDueKey = (componentAppId: string, shard: number) => `DUE#${componentAppId}#${shard}`;

/**
 * The `due` index partition of an active authorizer: `DUE#<componentAppid>#<shard>`. One partition per
 * platform would take every index write of the platform's renewals; `DUE_INDEX_SHARDS` of them keep each
 * far below DynamoDB's per-partition limit (the arithmetic is in `policy.ts`).
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-sharding.html
 */
export function authorizerDueKey(componentAppId: string, authorizerAppId: string): string {
  return shardDueKey(componentAppId, dueShard(authorizerAppId));
}

/**
 * The partition every active authorizer was on before the index was sharded. Items written by an earlier
 * release keep it until their next save (a renewal or an authorization) moves them to their shard, and the
 * sweep keeps reading it: an empty Query per run costs less than knowing when it is safe to stop.
 */
export function legacyAuthorizerDueKey(componentAppId: string): string {
  return `DUE#${componentAppId}`;
}

/** Every `due` index partition that can hold a platform's active authorizers: its shards, then the legacy one. */
export function authorizerDuePartitions(componentAppId: string): string[] {
  return [
    ...Array.from({ length: DUE_INDEX_SHARDS }, (_, shard) => shardDueKey(componentAppId, shard)),
    legacyAuthorizerDueKey(componentAppId),
  ];
}

/**
 * The `due` index partition of an authorizer's `getticket` tickets: `TICKET_DUE#<componentAppid>#<shard>`,
 * sharded by the authorizer's appid like the authorizers (there can be two tickets per active authorizer),
 * and apart from them, so a listing of due authorizers never meets a ticket.
 */
export function ticketDueKey(componentAppId: string, authorizerAppId: string): string {
  return `TICKET_DUE#${componentAppId}#${dueShard(authorizerAppId)}`;
}

/** Every `due` index partition that can hold a platform's ticket records. */
export function ticketDuePartitions(componentAppId: string): string[] {
  return Array.from(
    { length: DUE_INDEX_SHARDS },
    (_, shard) => `TICKET_DUE#${componentAppId}#${shard}`
  );
}

/**
 * The `due` index partition of a platform's pending authorization codes. Not sharded: a code is pending for
 * at most its 10 minutes, one per authorization, so even a platform authorized by thousands of merchants an
 * hour writes it a few times a second.
 */
export function authCodeDueKey(componentAppId: string): string {
  return `AUTHCODE_DUE#${componentAppId}`;
}

/** A CreateTable input (on-demand) for dynalite and tests; production tables come from CDK. */
export function tokenTableDefinition(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: TABLE_SCHEMA.partitionKey, AttributeType: 'S' as const },
      { AttributeName: TABLE_SCHEMA.dueIndex.partitionKey, AttributeType: 'S' as const },
      { AttributeName: TABLE_SCHEMA.dueIndex.sortKey, AttributeType: 'N' as const },
    ],
    KeySchema: [{ AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' as const }],
    GlobalSecondaryIndexes: [
      {
        IndexName: TABLE_SCHEMA.dueIndex.name,
        KeySchema: [
          { AttributeName: TABLE_SCHEMA.dueIndex.partitionKey, KeyType: 'HASH' as const },
          { AttributeName: TABLE_SCHEMA.dueIndex.sortKey, KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'ALL' as const },
      },
    ],
  };
}
