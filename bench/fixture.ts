import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDeps, type Deps, type DepsOverrides } from '../functions/lib/deps';
import { loadConfig } from '../shared/config';
import type { Log, LogFields, Metrics } from '../shared/log';
import type { ComponentSecret } from '../shared/secrets';
import { DynamoDbTokenStore } from '../shared/store/dynamodb-token-store';

/** The platform the benchmarks play (the same values as the integration harness). */
export const COMPONENT_APPID = 'wx0c0mp0nent00001';
export const SECRET: ComponentSecret = {
  componentAppSecret: 'component-app-secret-value-0001',
  token: 'callback-token-value',
  encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
};

/** A `Log` that writes nothing and counts messages by level and text (to check what a run did). */
export function countingLog(): Log & { counts: Map<string, number>; errors: LogFields[] } {
  const counts = new Map<string, number>();
  const errors: LogFields[] = [];
  const at =
    (level: string) =>
    (message: string, fields: LogFields = {}) => {
      const key = `${level} ${message}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (level === 'error' && errors.length < 20) errors.push({ message, ...fields });
    };
  return {
    counts,
    errors,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}

export const ignoreMetrics: Metrics = { count() {}, gauge() {} };

/** What a document client returned, per command, counted at the client. */
export interface DynamoCounts {
  requests: Record<string, number>;
  /** Items returned by GetItem (`Item`) and Query (`Items`). */
  itemsRead: number;
}

/**
 * A document client on `client` whose `send` counts requests by command and the items that Get and Query
 * return. Everything else is the real client.
 */
export function countingDocumentClient(client: DynamoDBClient): {
  doc: DynamoDBDocumentClient;
  counts: DynamoCounts;
  reset(): void;
} {
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const counts: DynamoCounts = { requests: {}, itemsRead: 0 };
  const send = doc.send.bind(doc) as (command: object) => Promise<Record<string, unknown>>;
  const counted = async (command: object) => {
    const name = command.constructor.name.replace(/Command$/, '');
    counts.requests[name] = (counts.requests[name] ?? 0) + 1;
    const output = await send(command);
    if (output.Item) counts.itemsRead += 1;
    if (Array.isArray(output.Items)) counts.itemsRead += output.Items.length;
    return output;
  };
  doc.send = counted as unknown as typeof doc.send;
  return {
    doc,
    counts,
    reset() {
      counts.requests = {};
      counts.itemsRead = 0;
    },
  };
}

/** The production composition root (`createDeps`) on a local table, with the secret in memory. */
export function benchDeps(
  options: {
    tableName: string;
    dynamoDbEndpoint: string;
    wechatApiBaseUrl?: string;
  } & DepsOverrides
): Deps {
  const { tableName, dynamoDbEndpoint, wechatApiBaseUrl, ...overrides } = options;
  const config = loadConfig({
    TOKEN_TABLE_NAME: tableName,
    COMPONENT_APPID,
    COMPONENT_SECRET_ID: 'local',
    DYNAMODB_ENDPOINT: dynamoDbEndpoint,
    // Nothing listens here: a benchmark that should not call WeChat fails loudly if it does.
    WECHAT_API_BASE_URL: wechatApiBaseUrl ?? 'http://127.0.0.1:9',
  });
  return createDeps(config, {
    secrets: async () => SECRET,
    log: countingLog(),
    metrics: ignoreMetrics,
    ...overrides,
  });
}

/**
 * Stores an authorization for `authorizerAppId` with a valid token (2 h nominal, renewal planned 15 min
 * before), as `api_query_auth` would have; returns the token and the item's key.
 */
export async function seedAuthorizer(
  doc: DynamoDBDocumentClient,
  tableName: string,
  authorizerAppId: string,
  now = Date.now(),
  accessToken = `benchaccesstoken@@@${'x'.repeat(100)}`
): Promise<{ accessToken: string; pk: string }> {
  const hour = 3_600_000;
  await new DynamoDbTokenStore(doc, tableName).saveAuthorization(
    {
      componentAppId: COMPONENT_APPID,
      authorizerAppId,
      accessToken,
      expiresAt: now + 2 * hour,
      refreshToken: `refreshtoken@@@${'r'.repeat(43)}`,
      funcInfo: [1, 2, 3],
      refreshAt: now + 2 * hour - 15 * 60_000,
      authorizedAt: now,
    },
    now
  );
  return { accessToken, pk: `AUTHORIZER#${COMPONENT_APPID}#${authorizerAppId}` };
}
