import { describe, expect, it } from 'vitest';
import {
  KNOWN_FOR_MS,
  KnownAuthorizers,
  UNKNOWN_FOR_MS,
} from '../../../../shared/messages/known-authorizers';
import { RecentPushes } from '../../../../shared/messages/recent-pushes';
import type { AuthorizerRecord, TokenStore } from '../../../../shared/store/token-store';
import { AUTHORIZER_APPID, COMPONENT_APPID, T0 } from '../../../support/test-ids';

describe('RecentPushes', () => {
  it('remembers a published id for the retry window only', () => {
    const recent = new RecentPushes(30_000, 100);
    recent.add('a', T0);
    expect(recent.has('a', T0 + 29_999)).toBe(true);
    expect(recent.has('a', T0 + 30_000)).toBe(false);
    expect(recent.has('b', T0)).toBe(false);
  });

  it('keeps at most its cap, forgetting the oldest first', () => {
    const recent = new RecentPushes(60_000, 3);
    for (const [i, id] of ['a', 'b', 'c', 'd'].entries()) recent.add(id, T0 + i);
    expect(['a', 'b', 'c', 'd'].map((id) => recent.has(id, T0 + 10))).toEqual([
      false,
      true,
      true,
      true,
    ]);
  });
});

describe('KnownAuthorizers', () => {
  function storeWith(status: AuthorizerRecord['status'] | undefined) {
    const reads: string[] = [];
    const store = {
      status,
      async getAuthorizer(_component: string, appId: string) {
        reads.push(appId);
        return store.status ? ({ status: store.status } as AuthorizerRecord) : undefined;
      },
    };
    return { store, reads, tokenStore: store as unknown as TokenStore };
  }

  it('reads an authorizer once per KNOWN_FOR_MS while it is known', async () => {
    const { reads, tokenStore } = storeWith('active');
    const known = new KnownAuthorizers(tokenStore, COMPONENT_APPID);
    expect(await known.isKnown(AUTHORIZER_APPID, T0)).toBe(true);
    expect(await known.isKnown(AUTHORIZER_APPID, T0 + KNOWN_FOR_MS - 1)).toBe(true);
    expect(reads).toHaveLength(1);
    await known.isKnown(AUTHORIZER_APPID, T0 + KNOWN_FOR_MS);
    expect(reads).toHaveLength(2);
  });

  it('trusts “unknown” only briefly, so a merchant just authorized is published seconds later', async () => {
    const { store, reads, tokenStore } = storeWith(undefined);
    const known = new KnownAuthorizers(tokenStore, COMPONENT_APPID);
    expect(await known.isKnown(AUTHORIZER_APPID, T0)).toBe(false);
    store.status = 'active';
    expect(await known.isKnown(AUTHORIZER_APPID, T0 + UNKNOWN_FOR_MS - 1)).toBe(false);
    expect(await known.isKnown(AUTHORIZER_APPID, T0 + UNKNOWN_FOR_MS)).toBe(true);
    expect(reads).toHaveLength(2);
  });

  it.each([
    ['revoked', false],
    ['needs_reauthorization', true],
    ['awaiting_authorization_code', true],
  ] as const)('an authorizer %s is known: %s', async (status, expected) => {
    const known = new KnownAuthorizers(storeWith(status).tokenStore, COMPONENT_APPID);
    expect(await known.isKnown(AUTHORIZER_APPID, T0)).toBe(expected);
  });
});
