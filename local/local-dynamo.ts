import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
// @ts-expect-error dynalite ships no type declarations
import dynalite from 'dynalite';
import { tokenTableDefinition } from '../shared/store/table-schema';

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  /** Creates a fresh token table and returns its name. */
  createTable(prefix?: string): Promise<string>;
  close(): Promise<void>;
}

let tableCounter = 0;

/** Clients for a local DynamoDB endpoint: dummy credentials, loopback only, undefined values dropped. */
export function localDynamoClients(endpoint: string) {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return { client, doc };
}

/** Creates a token table with a unique name (the adapter's own definition) and returns the name. */
export async function createTokenTable(client: DynamoDBClient, prefix: string): Promise<string> {
  const name = `${prefix}-${process.pid}-${++tableCounter}`;
  await client.send(new CreateTableCommand(tokenTableDefinition(name)));
  return name;
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
