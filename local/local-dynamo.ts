import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type KeySchemaElement,
  ResourceInUseException,
  ResourceNotFoundException,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
// @ts-expect-error dynalite ships no type declarations
import dynalite from 'dynalite';
import { TABLE_SCHEMA, tokenTableDefinition } from '../shared/store/table-schema';

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  /** Creates a fresh token table and returns its name. */
  createTable(prefix?: string): Promise<string>;
  close(): Promise<void>;
}

let tableCounter = 0;

const DUMMY_REGION = 'us-east-1';
const DUMMY_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** How long a new table (ours, or one another process is creating) may take to become usable. */
const TABLE_ACTIVE_WAIT_MS = 60_000;
const TABLE_POLL_MS = 200;

/** Where and as whom to reach a DynamoDB endpoint. */
export interface AwsTarget {
  region: string;
  /**
   * true: the SDK's own credential chain (the environment has credentials); false: dummy ones, which a
   * local server accepts.
   */
  ownCredentials: boolean;
}

/**
 * The region (`AWS_REGION`, `AWS_DEFAULT_REGION`) and whether the environment has credentials
 * (`AWS_ACCESS_KEY_ID` with `AWS_SECRET_ACCESS_KEY`, or `AWS_PROFILE`); without them, dummies.
 */
export function awsTargetFromEnv(env: Record<string, string | undefined>): AwsTarget {
  return {
    region: env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || DUMMY_REGION,
    ownCredentials:
      !!(env.AWS_ACCESS_KEY_ID?.trim() && env.AWS_SECRET_ACCESS_KEY?.trim()) ||
      !!env.AWS_PROFILE?.trim(),
  };
}

/**
 * Clients for a DynamoDB endpoint, undefined values dropped; by default with dummy credentials and region
 * (dynalite accepts any).
 */
export function localDynamoClients(
  endpoint: string,
  target: AwsTarget = { region: DUMMY_REGION, ownCredentials: false }
) {
  const client = new DynamoDBClient({
    endpoint,
    region: target.region,
    ...(target.ownCredentials ? {} : { credentials: DUMMY_CREDENTIALS }),
  });
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return { client, doc };
}

/**
 * Creates a token table with a unique name (the adapter's own definition), waits until it is usable, and
 * returns the name.
 */
export async function createTokenTable(client: DynamoDBClient, prefix: string): Promise<string> {
  const name = `${prefix}-${process.pid}-${++tableCounter}`;
  await client.send(new CreateTableCommand(tokenTableDefinition(name)));
  await waitUntilActive(client, name);
  return name;
}

/**
 * Makes sure the token table `tableName` exists (the adapter's own definition, with its `due` index):
 * creates it when missing, and waits until it is active. Several processes may do this at once on one
 * endpoint: whoever loses the creation race waits for the winner's table.
 *
 * @returns whether this call created the table.
 * @throws Error when a table of that name exists with another key or without the `due` index.
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html
 */
export async function ensureTokenTable(
  client: DynamoDBClient,
  tableName: string
): Promise<'created' | 'existing'> {
  let outcome: 'created' | 'existing' = 'existing';
  if (!(await describeTable(client, tableName))) {
    try {
      await client.send(new CreateTableCommand(tokenTableDefinition(tableName)));
      outcome = 'created';
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  await waitUntilActive(client, tableName);
  return outcome;
}

/**
 * Waits until the table and its indexes are ACTIVE, checking its shape. A created table answers
 * `ResourceNotFoundException` to item operations while it is CREATING (dynalite too: even with
 * `createTableMs: 0` it turns ACTIVE on a timer, after `CreateTable` has answered).
 */
async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = performance.now() + TABLE_ACTIVE_WAIT_MS;
  for (;;) {
    const table = await describeTable(client, tableName);
    if (table) assertTokenTableShape(table);
    const statuses = [
      table?.TableStatus,
      ...(table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexStatus),
    ];
    if (table && statuses.every((status) => status === 'ACTIVE')) return;
    if (performance.now() > deadline) {
      throw new Error(`table ${tableName} did not become active within ${TABLE_ACTIVE_WAIT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, TABLE_POLL_MS));
  }
}

async function describeTable(
  client: DynamoDBClient,
  tableName: string
): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/** An existing table must have the adapter's key and `due` index, or nothing would work on it. */
function assertTokenTableShape(table: TableDescription): void {
  const keyOf = (schema: readonly KeySchemaElement[] | undefined) =>
    (schema ?? []).map(({ AttributeName, KeyType }) => `${AttributeName}:${KeyType}`).join(',');
  const { partitionKey, dueIndex } = TABLE_SCHEMA;
  const index = table.GlobalSecondaryIndexes?.find((i) => i.IndexName === dueIndex.name);
  if (
    keyOf(table.KeySchema) !== `${partitionKey}:HASH` ||
    keyOf(index?.KeySchema) !== `${dueIndex.partitionKey}:HASH,${dueIndex.sortKey}:RANGE`
  ) {
    throw new Error(
      `table ${table.TableName} exists with another key or without the ${dueIndex.name} index; ` +
        'set TOKEN_TABLE_NAME to another name'
    );
  }
}

/**
 * dynalite (a DynamoDB-compatible server) in memory on 127.0.0.1 with a client wired to it: dummy
 * credentials, no network. Used by the sandbox (`npm start`) and by the integration tests.
 */
export async function startLocalDynamo(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const { client, doc } = localDynamoClients(endpoint);
  return {
    endpoint,
    client,
    doc,
    createTable: (prefix = 'tokens') => createTokenTable(client, prefix),
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
