/**
 * The one way to the token table. Every command goes through `send`, which translates DynamoDB's errors where
 * they enter (a failed condition is `ConcurrentUpdateError`, anything else `StoreUnavailableError`), and
 * every read of a single item is strongly consistent, so a reader right after a refresh sees the new token.
 *
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError, StoreUnavailableError } from '../../errors';
import { TABLE_SCHEMA } from '../table-schema';
import type { Item } from './items';

export class Table {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    readonly name: string
  ) {}

  async get(pk: string): Promise<Item | undefined> {
    const result = await this.send(
      new GetCommand({ TableName: this.name, Key: { pk }, ConsistentRead: true })
    );
    return result.Item;
  }

  put(input: Omit<PutCommandInput, 'TableName'>) {
    return this.send(new PutCommand({ TableName: this.name, ...input }));
  }

  update(input: Omit<UpdateCommandInput, 'TableName'>) {
    return this.send(new UpdateCommand({ TableName: this.name, ...input }));
  }

  /** Items of one `due` index partition whose `refreshAt <= now`, oldest first, a page at a time. */
  async queryDue(dueKey: string, now: number, limit: number, cursor?: string) {
    const result = await this.send(
      new QueryCommand({
        TableName: this.name,
        IndexName: TABLE_SCHEMA.dueIndex.name,
        KeyConditionExpression: '#dueKey = :dueKey AND #refreshAt <= :now',
        ExpressionAttributeNames: { '#dueKey': 'dueKey', '#refreshAt': 'refreshAt' },
        ExpressionAttributeValues: { ':dueKey': dueKey, ':now': now },
        Limit: limit,
        ExclusiveStartKey: cursor
          ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
          : undefined,
      })
    );
    return {
      items: (result.Items ?? []) as Item[],
      cursor: result.LastEvaluatedKey
        ? Buffer.from(JSON.stringify(result.LastEvaluatedKey)).toString('base64url')
        : undefined,
    };
  }

  /**
   * Sends any document-client command.
   *
   * @throws ConcurrentUpdateError when its condition failed.
   * @throws StoreUnavailableError for every other failure.
   */
  // biome-ignore lint/suspicious/noExplicitAny: one funnel for every command type of the document client
  async send<C extends { input: object }>(command: C): Promise<any> {
    try {
      // biome-ignore lint/suspicious/noExplicitAny: see above
      return await this.client.send(command as any);
    } catch (error) {
      if ((error as Error | undefined)?.name === 'ConditionalCheckFailedException') {
        throw new ConcurrentUpdateError('the item changed or is leased by another writer', {
          cause: error,
        });
      }
      throw new StoreUnavailableError('DynamoDB request failed', { cause: error });
    }
  }
}

/**
 * Waits for a conditional write: true when it was made, false when its condition failed (a newer record, a
 * full budget, a known id: the write was not wanted).
 */
export async function applied(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    if (error instanceof ConcurrentUpdateError) return false;
    throw error;
  }
}
