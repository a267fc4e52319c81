import { describe, expect, it } from 'vitest';
import {
  authorizationEventType,
  LIFECYCLE_EVENT_SOURCE,
  type LifecycleChange,
  lifecycleEvent,
} from '../../../../shared/events/lifecycle-event';
import type { AuthorizerRecord } from '../../../../shared/store/token-store';
import {
  AUTHORIZER_APPID as A,
  OTHER_AUTHORIZER_APPID as B,
  COMPONENT_APPID as C,
  OTHER_COMPONENT_APPID,
  T0,
} from '../../../support/test-ids';

const change = (overrides: Partial<LifecycleChange> = {}): LifecycleChange => ({
  type: 'authorized',
  authorizerAppId: A,
  status: 'active',
  permissionSetIds: [3, 1, 2, 1],
  reason: 'redirect',
  at: T0,
  ...overrides,
});

const record = (overrides: Partial<AuthorizerRecord>): AuthorizerRecord => ({
  componentAppId: C,
  authorizerAppId: A,
  status: 'active',
  funcInfo: [1, 2],
  authorizedAt: T0,
  version: 3,
  updatedAt: T0,
  ...overrides,
});

describe('lifecycleEvent', () => {
  it('says what changed, for whom, why and when; permission sets ascending and once', () => {
    const event = lifecycleEvent(C, change());
    expect(event).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      schemaVersion: 1,
      type: 'authorized',
      componentAppId: C,
      authorizerAppId: A,
      status: 'active',
      permissionSetIds: [1, 2, 3],
      reason: 'redirect',
      time: '2027-01-15T08:00:00.000Z',
    });
    expect(LIFECYCLE_EVENT_SOURCE).toBe('wechat-token-service');
  });

  it('gives every record of one change the same id, and any other change another', () => {
    const id = lifecycleEvent(C, change()).id;
    expect(lifecycleEvent(C, change({ permissionSetIds: [1, 2, 3] })).id).toBe(id);
    const others = [
      lifecycleEvent(OTHER_COMPONENT_APPID, change()),
      lifecycleEvent(C, change({ authorizerAppId: B })),
      lifecycleEvent(C, change({ type: 'permissions_changed' })),
      lifecycleEvent(C, change({ status: 'without_api_permission' })),
      lifecycleEvent(C, change({ permissionSetIds: [1, 2] })),
      lifecycleEvent(C, change({ reason: 'push' })),
      lifecycleEvent(C, change({ at: T0 + 1000 })),
    ].map((e) => e.id);
    expect(new Set([id, ...others]).size).toBe(others.length + 1);
  });
});

describe('authorizationEventType', () => {
  const active = { status: 'active', funcInfo: [2, 1] } as const;

  it('authorized: unknown here, or ended here and authorized again by its code', () => {
    expect(authorizationEventType(undefined, active, 'redirect')).toBe('authorized');
    expect(authorizationEventType(undefined, active, 'reconciliation')).toBe('authorized');
    for (const status of ['revoked', 'needs_reauthorization'] as const) {
      expect(authorizationEventType(record({ status }), active, 'push')).toBe('authorized');
      expect(authorizationEventType(record({ status }), active, 'reconciliation')).toBe(
        'reactivated'
      );
    }
  });

  it('permissions_changed: other permission sets, or API permission gained or lost', () => {
    expect(authorizationEventType(record({}), { ...active, funcInfo: [1, 2, 3] }, 'push')).toBe(
      'permissions_changed'
    );
    expect(authorizationEventType(record({}), { ...active, funcInfo: [1] }, 'push')).toBe(
      'permissions_changed'
    );
    expect(
      authorizationEventType(record({ status: 'without_api_permission' }), active, 'reconciliation')
    ).toBe('permissions_changed');
    expect(
      authorizationEventType(
        record({}),
        { status: 'without_api_permission', funcInfo: [1, 2] },
        'redirect'
      )
    ).toBe('permissions_changed');
  });

  it('nothing when a consumer would see no difference', () => {
    expect(authorizationEventType(record({}), active, 'redirect')).toBeUndefined();
    expect(authorizationEventType(record({}), active, 'reconciliation')).toBeUndefined();
  });
});
