import type { Deps } from '../../functions/lib/deps';
import type { TokenStore } from '../../shared/store/token-store';
import type { TokenContext } from '../../shared/token-context';
import type { ComponentApi } from '../../shared/wechat/api-client';
import { fakeComponentApi } from './fake-component-api';
import { MemoryTokenStore } from './memory-token-store';
import { recordingLog, recordingMetrics } from './recorders';
import { AUTHORIZER_APPID, COMPONENT_APPID, MINUTE, T0 } from './test-ids';

/** Stores a component token issued at `T0` (2 h life, renewal due 15 min before), as a running service has. */
export async function storeComponentToken(store: TokenStore, accessToken = 'ct'): Promise<void> {
  const componentRef = { kind: 'component_token', componentAppId: COMPONENT_APPID } as const;
  await store.claim(componentRef, 0, { owner: 'setup', until: T0 + 1 }, T0 - 1);
  await store.saveComponentToken(
    COMPONENT_APPID,
    'setup',
    { accessToken, expiresAt: T0 + 7_200_000, refreshAt: T0 + 6_300_000 },
    T0
  );
}

/**
 * A `TokenContext` over the in-memory store and a fake WeChat made of `methods`, with a clock the test
 * moves (`clock.now`), and the stored component token and one active authorizer as a running service has.
 */
export async function tokenContext(
  methods: Partial<ComponentApi> = {},
  options: { authorizerExpiresIn?: number } = {}
) {
  const store = new MemoryTokenStore();
  const clock = { now: T0 };
  let owners = 0;
  const ctx: TokenContext = {
    ...handlerDeps(store, methods),
    clock: () => clock.now,
    sleep: async (ms) => {
      clock.now += ms;
    },
    newLeaseOwner: () => `owner-${++owners}`,
  };
  await storeComponentToken(store, 'component-token');
  const expiresAt = T0 + (options.authorizerExpiresIn ?? 7_200_000);
  await store.saveAuthorization(
    {
      componentAppId: COMPONENT_APPID,
      authorizerAppId: AUTHORIZER_APPID,
      accessToken: 'access-1',
      expiresAt,
      refreshToken: 'refresh-1',
      funcInfo: [1],
      refreshAt: expiresAt - 15 * MINUTE,
      authorizedAt: T0,
    },
    T0
  );
  return { ctx, store, clock, log: ctx.log as ReturnType<typeof recordingLog> };
}

/**
 * A handler's `Deps` over `store` and a fake WeChat made of `methods`, at a fixed time `now`, with recording
 * log and metrics: what a function test needs that `tokenContext` does not (config, message crypto).
 */
export function handlerDeps(
  store: TokenStore,
  methods: Partial<ComponentApi> = {},
  now = T0
): Deps & { log: ReturnType<typeof recordingLog> } {
  return {
    componentAppId: COMPONENT_APPID,
    store,
    api: fakeComponentApi(methods),
    secrets: async () => ({ componentAppSecret: 's', token: 't', encodingAesKey: 'k'.repeat(43) }),
    clock: () => now,
    log: recordingLog(),
    metrics: recordingMetrics(),
    sleep: async () => {},
    ticketPush: {},
    newLeaseOwner: () => 'owner',
    config: {} as Deps['config'],
    msgCrypto: async () => {
      throw new Error('not used');
    },
    relay: { send: () => Promise.reject(new Error('unexpected relayed WeChat call')) },
    startReleaseCheckReply: () => Promise.reject(new Error('unexpected release-check job')),
  };
}
