/**
 * The get-token benchmark's baseline: a bare `GetItem`, bundled exactly as the deployed functions are (same
 * esbuild settings, same SDK handling), with a client configured the way `createDeps` configures its own
 * (endpoint and credentials from the environment).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});

/** The item under `pk`, read strongly or eventually consistently. */
export async function getItem(
  tableName: string,
  pk: string,
  consistent: boolean
): Promise<Record<string, unknown> | undefined> {
  const answer = await doc.send(
    new GetCommand({ TableName: tableName, Key: { pk }, ConsistentRead: consistent })
  );
  return answer.Item;
}
