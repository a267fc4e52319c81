import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { WechatSimulator } from '../../local/simulator';
import { exchangeAuthCode } from '../../shared/authorization/auth-codes';
import { refreshAtFor } from '../../shared/policy';
import { getComponentAccessToken } from '../../shared/serving/component-token';
import { type Harness, SECRET } from './harness';
import { COMPONENT_APPID } from './test-ids';

/** The merchant confirms on WeChat's side and the service exchanges the code, as the push does. */
export async function seedAuthorizer(h: Harness, authorizerAppId: string): Promise<void> {
  const code = h.simulator.authorize(authorizerAppId);
  const result = await exchangeAuthCode(h.deps, {
    code,
    source: 'push',
    authorizerAppId,
    receivedAt: h.clock.now,
    expiresAt: h.clock.now + 600_000,
  });
  if (result.status !== 'exchanged') throw new Error(`seeding ${authorizerAppId} stayed pending`);
}

/**
 * Many authorizers at once, cheaply: WeChat issues each one's tokens through the real client
 * (`api_query_auth`) and the store saves them with one write, as the exchange does.
 */
export async function seedAuthorizers(
  h: Harness,
  authorizerAppIds: readonly string[],
  concurrency = 16
): Promise<void> {
  const { accessToken } = await getComponentAccessToken(h.deps);
  await mapLimit(authorizerAppIds, concurrency, async (authorizerAppId) => {
    const code = h.simulator.authorize(authorizerAppId);
    const { authorization_info: info } = await h.deps.api.apiQueryAuth(accessToken, code);
    const now = h.clock.now;
    const expiresAt = now + (info.expires_in as number) * 1000;
    await h.deps.store.saveAuthorization(
      {
        componentAppId: COMPONENT_APPID,
        authorizerAppId: info.authorizer_appid,
        accessToken: info.authorizer_access_token,
        expiresAt,
        refreshToken: info.authorizer_refresh_token,
        funcInfo: [],
        refreshAt: refreshAtFor(now, expiresAt),
        authorizedAt: now,
      },
      now
    );
  });
}

/** Runs `task` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Every item of the stack's table, sorted by key (tests may scan; the service never does). */
export async function scanTable(h: Harness): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await h.dynamo.doc.send(
      new ScanCommand({ TableName: h.tableName, ConsistentRead: true, ExclusiveStartKey: start })
    );
    items.push(...((page.Items ?? []) as Record<string, unknown>[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => String(a.pk).localeCompare(String(b.pk)));
}

/**
 * Every credential value in play: the component secret and everything the simulator issued (tickets,
 * tokens, refresh tokens, auth codes, and pre-auth codes when asked for).
 */
export function credentialValues(
  simulator: WechatSimulator,
  options: { preAuthCodes?: boolean; extra?: readonly string[] } = {}
): string[] {
  const { state } = simulator;
  const key = Buffer.from(`${SECRET.encodingAesKey}=`, 'base64');
  const values = [
    SECRET.componentAppSecret,
    SECRET.token,
    SECRET.encodingAesKey,
    key.toString('hex'),
    key.toString('base64'),
    ...state.tickets.keys(),
    ...state.componentTokens.keys(),
    ...state.authCodes.keys(),
    ...(options.preAuthCodes ? state.preAuthCodes.keys() : []),
    ...[...state.authorizers.values()].flatMap((a) => [a.refreshToken, ...a.accessTokens.keys()]),
    ...(options.extra ?? []),
  ];
  return [...new Set(values.filter((v) => v.length >= 8))];
}

/** The credential values (or their distinctive random part) found in `text`. */
export function leakedIn(text: string, credentials: readonly string[]): string[] {
  return credentials.filter((value) => {
    const random = value.includes('@@@') ? value.slice(value.indexOf('@@@') + 3) : value;
    return text.includes(value) || (random.length >= 16 && text.includes(random));
  });
}
