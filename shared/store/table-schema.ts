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
