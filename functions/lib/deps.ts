import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Clock, systemClock } from '../../shared/clock';
import { loadConfig, type RuntimeConfig } from '../../shared/config';
import { MsgCrypto } from '../../shared/crypto/msg-crypto';
import { RELAY_TIMEOUT_MS } from '../../shared/egress/call-wechat';
import { HttpWechatRelay, type WechatRelay } from '../../shared/egress/wechat-relay';
import { ConfigError } from '../../shared/errors';
import type { EventPublisher } from '../../shared/events/publisher';
import { type Log, MetricName, type Metrics } from '../../shared/log';
import type { ReleaseCheckReplyJob } from '../../shared/messages/handle-message';
import { WECHAT_ATTEMPTS, WECHAT_RETRY_DELAY_MS, WECHAT_TIMEOUT_MS } from '../../shared/policy';
import {
  type AppSecret,
  type ComponentSecret,
  cachedSecret,
  type MessageSecret,
  parseAppSecret,
  parseMessageSecret,
} from '../../shared/secrets';
import { DynamoDbTokenStore } from '../../shared/store/dynamodb-token-store';
import type { TokenStore } from '../../shared/store/token-store';
import { randomLeaseOwner, realSleep, type TokenContext } from '../../shared/token-context';
import { type ComponentApi, HttpComponentApi } from '../../shared/wechat/api-client';
import { eventBridgePublisher } from './event-bridge-publisher';
import { observability, powertoolsLog, powertoolsMetrics } from './observability';
import { refreshJobStarter } from './refresh-job-starter';

/** Everything a handler needs: the services' context plus edge-only pieces. */
export interface Deps extends TokenContext {
  config: RuntimeConfig;
  /** Message crypto built from the (cached) component secret. */
  msgCrypto(): Promise<MsgCrypto>;
  /** Callers' WeChat calls, sent from our egress (call-wechat). */
  relay: WechatRelay;
  /** Starts the release check's customer-service answer on the refresh function, without waiting. */
  startReleaseCheckReply(job: ReleaseCheckReplyJob): Promise<void>;
}

export type GetDeps = () => Promise<Deps>;

export interface DepsOverrides {
  store?: TokenStore;
  api?: ComponentApi;
  secrets?: () => Promise<ComponentSecret>;
  /** Where lifecycle events go instead of the `EVENT_BUS_NAME` bus (the sandbox's in-process list). */
  events?: EventPublisher;
  dynamo?: DynamoDBDocumentClient;
  fetch?: typeof fetch;
  clock?: Clock;
  log?: Log;
  metrics?: Metrics;
  sleep?: (ms: number) => Promise<void>;
  /** Tighter WeChat timings for fault-injection tests; production uses `policy.ts`. */
  wechat?: { timeoutMs?: number; attempts?: number; retryDelayMs?: number };
  relay?: WechatRelay;
  /** Runs the release check's answer instead of invoking `REFRESH_FUNCTION_NAME` (the sandbox's). */
  startReleaseCheckReply?: (job: ReleaseCheckReplyJob) => Promise<void>;
  /** Entries per authorizer-list page (`TokenContext.listPageSize`); production uses WeChat's maximum. */
  listPageSize?: number;
}

/**
 * Reads secret strings from Secrets Manager. The client is imported and built on first use, once for both
 * secrets: get-token and the authorization pages rarely need a secret, so they start without loading it.
 */
function secretsManagerReader(): (secretId: string) => () => Promise<string | undefined> {
  let client: import('@aws-sdk/client-secrets-manager').SecretsManagerClient | undefined;
  return (secretId) => async () => {
    const sdk = await import('@aws-sdk/client-secrets-manager');
    client ??= new sdk.SecretsManagerClient({});
    const answer = await client.send(new sdk.GetSecretValueCommand({ SecretId: secretId }));
    return answer.SecretString;
  };
}

/**
 * The composition root: the only place that constructs the DynamoDB and Secrets Manager clients, the store,
 * the WeChat client, the lifecycle event publisher (the EventBridge bus of `EVENT_BUS_NAME`, its client
 * built on first use) and the message crypto. Lambdas use `getDeps`; the sandbox and tests call this with
 * overrides.
 */
export function createDeps(config: RuntimeConfig, overrides: DepsOverrides = {}): Deps {
  const clock = overrides.clock ?? systemClock;
  const store =
    overrides.store ??
    new DynamoDbTokenStore(
      overrides.dynamo ??
        DynamoDBDocumentClient.from(
          new DynamoDBClient(config.dynamoDbEndpoint ? { endpoint: config.dynamoDbEndpoint } : {}),
          { marshallOptions: { removeUndefinedValues: true } }
        ),
      config.tokenTableName
    );
  const read = secretsManagerReader();
  const secrets: () => Promise<AppSecret> =
    overrides.secrets ?? cachedSecret(read(config.componentSecretId), parseAppSecret, clock);
  const { messageSecretId } = config;
  const messageSecret: () => Promise<MessageSecret> =
    overrides.secrets ??
    (messageSecretId
      ? cachedSecret(read(messageSecretId), parseMessageSecret, clock)
      : () =>
          Promise.reject(
            new ConfigError(['MESSAGE_SECRET_ID is required to verify and decrypt pushes'])
          ));
  let crypto: { secret: MessageSecret; crypto: MsgCrypto } | undefined;
  const obs = overrides.log && overrides.metrics ? undefined : observability();
  const metrics = overrides.metrics ?? powertoolsMetrics((obs as NonNullable<typeof obs>).metrics);
  return {
    config,
    componentAppId: config.componentAppId,
    store,
    api:
      overrides.api ??
      new HttpComponentApi({
        componentAppId: config.componentAppId,
        baseUrl: config.wechatApiBaseUrl,
        timeoutMs: overrides.wechat?.timeoutMs ?? WECHAT_TIMEOUT_MS,
        attempts: overrides.wechat?.attempts ?? WECHAT_ATTEMPTS,
        retryDelayMs: overrides.wechat?.retryDelayMs ?? WECHAT_RETRY_DELAY_MS,
        fetch: overrides.fetch,
        onWechatError: (error) => {
          if (error.kind === 'ip_not_whitelisted') metrics.count(MetricName.WhitelistRejected);
        },
      }),
    events:
      overrides.events ??
      (config.eventBusName ? eventBridgePublisher({ busName: config.eventBusName }) : undefined),
    secrets,
    clock,
    log: overrides.log ?? powertoolsLog((obs as NonNullable<typeof obs>).logger),
    metrics,
    sleep: overrides.sleep ?? realSleep,
    newLeaseOwner: randomLeaseOwner,
    ticketPush: {},
    relay:
      overrides.relay ??
      new HttpWechatRelay({
        baseUrl: config.wechatApiBaseUrl,
        timeoutMs: RELAY_TIMEOUT_MS,
        ...(overrides.fetch ? { fetch: overrides.fetch } : {}),
      }),
    startReleaseCheckReply:
      overrides.startReleaseCheckReply ??
      (config.refreshFunctionName
        ? refreshJobStarter(config.refreshFunctionName)
        : () =>
            Promise.reject(
              new ConfigError(['REFRESH_FUNCTION_NAME is required to answer the release check'])
            )),
    ...(overrides.listPageSize === undefined ? {} : { listPageSize: overrides.listPageSize }),
    egressIp: config.egressIp,
    async msgCrypto() {
      const secret = await messageSecret();
      if (crypto?.secret !== secret) {
        crypto = {
          secret,
          crypto: new MsgCrypto({
            token: secret.token,
            encodingAesKey: secret.encodingAesKey,
            previousEncodingAesKey: secret.previousEncodingAesKey,
            appId: config.componentAppId,
          }),
        };
      }
      return crypto.crypto;
    },
  };
}

let memo: Promise<Deps> | undefined;

/** Lazily built, memoized per container; a failed build (bad config) is retried on the next call. */
export const getDeps: GetDeps = () => {
  memo ??= Promise.resolve()
    .then(() => createDeps(loadConfig()))
    .catch((error: unknown) => {
      memo = undefined;
      throw error;
    });
  return memo;
};
