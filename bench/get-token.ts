import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { createHandler, type GetTokenResponse } from '../functions/get-token';
import { DynamoDbTokenStore } from '../shared/store/dynamodb-token-store';
import { startDynaliteProcess } from './dynamo';
import { benchDeps, COMPONENT_APPID } from './fixture';
import { alternate, type Check, microsPerCall, round, type Summary, summarize } from './stats';

const AUTHORIZER = 'wxbenchmerchant0001';
const HOUR = 3_600_000;

export interface GetTokenResult {
  iterations: number;
  warmup: number;
  block: number;
  handler: Summary;
  getItem: Summary;
  ratio: { median: number; p99: number };
  /**
   * The handler's own cost per call (µs) with the stored item served from memory instead of dynalite: the
   * same handler, deps and store code, minus the SDK and the network.
   */
  handlerWithoutIoMicros: number;
  checks: Check[];
}

/**
 * get-token's hot path (a stored, valid authorizer token: one GetItem, no WeChat) through the real handler
 * and `createDeps` on dynalite, against a bare consistent `GetItem` of the same item through the same client.
 */
export async function benchGetToken(
  options: { iterations?: number; warmup?: number; block?: number } = {}
): Promise<GetTokenResult> {
  const iterations = options.iterations ?? 5000;
  const warmup = options.warmup ?? 500;
  const block = options.block ?? 10;
  const dynamo = await startDynaliteProcess();
  try {
    const tableName = await dynamo.createTable('bench-get-token');
    const deps = benchDeps({ tableName, dynamoDbEndpoint: dynamo.endpoint, dynamo: dynamo.doc });
    const now = Date.now();
    const accessToken = `benchaccesstoken@@@${'x'.repeat(100)}`;
    await new DynamoDbTokenStore(dynamo.doc, tableName).saveAuthorization(
      {
        componentAppId: COMPONENT_APPID,
        authorizerAppId: AUTHORIZER,
        accessToken,
        expiresAt: now + 2 * HOUR,
        refreshToken: `refreshtoken@@@${'r'.repeat(43)}`,
        funcInfo: [1, 2, 3],
        refreshAt: now + 2 * HOUR - 15 * 60_000,
        authorizedAt: now,
      },
      now
    );

    const handler = createHandler(() => Promise.resolve(deps));
    const event = { authorizerAppId: AUTHORIZER };
    const pk = `AUTHORIZER#${COMPONENT_APPID}#${AUTHORIZER}`;
    let wrong = 0;
    const viaHandler = async () => {
      const answer: GetTokenResponse = await handler(event);
      if (!('accessToken' in answer) || answer.accessToken !== accessToken) wrong += 1;
    };
    const viaGetItem = async () => {
      // A new command per call, as any caller (and the store) builds one.
      const answer = await dynamo.doc.send(
        new GetCommand({ TableName: tableName, Key: { pk }, ConsistentRead: true })
      );
      if (answer.Item?.accessToken !== accessToken) wrong += 1;
    };
    const samples = await alternate({ a: viaHandler, b: viaGetItem, iterations, warmup, block });
    if (wrong > 0)
      throw new Error(`get-token bench: ${wrong} calls did not return the stored token`);

    const item = (
      await dynamo.doc.send(
        new GetCommand({ TableName: tableName, Key: { pk }, ConsistentRead: true })
      )
    ).Item;
    const inMemory = { send: async () => ({ Item: item }) } as unknown as DynamoDBDocumentClient;
    const withoutIo = createHandler(() =>
      Promise.resolve(
        benchDeps({
          tableName,
          dynamoDbEndpoint: dynamo.endpoint,
          store: new DynamoDbTokenStore(inMemory, tableName),
        })
      )
    );
    const handlerWithoutIoMicros = await microsPerCall(() => withoutIo(event), {
      calls: 50_000,
      warmup: 10_000,
    });

    const h = summarize(samples.a);
    const g = summarize(samples.b);
    const ratio = { median: round(h.median / g.median), p99: round(h.p99 / g.p99) };
    return {
      iterations,
      warmup,
      block,
      handler: h,
      getItem: g,
      ratio,
      handlerWithoutIoMicros: round(handlerWithoutIoMicros, 2),
      checks: [
        {
          benchmark: 'get-token',
          metric: 'median handler / GetItem',
          value: ratio.median,
          target: '≤ 1.2',
          ok: ratio.median <= 1.2,
        },
        {
          benchmark: 'get-token',
          metric: 'p99 handler / GetItem',
          value: ratio.p99,
          target: '≤ 1.2',
          ok: ratio.p99 <= 1.2,
        },
      ],
    };
  } finally {
    await dynamo.close();
  }
}
