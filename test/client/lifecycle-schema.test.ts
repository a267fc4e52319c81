import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  LIFECYCLE_REASONS as CLIENT_REASONS,
  LIFECYCLE_STATUSES as CLIENT_STATUSES,
  LIFECYCLE_EVENT_TYPES as CLIENT_TYPES,
  type LifecycleEvent as ClientLifecycleEvent,
  type LifecycleEventType as ClientLifecycleEventType,
  type LifecycleReason as ClientLifecycleReason,
  type LifecycleAuthorizerStatus,
  type LifecycleBusEvent,
} from '../../client/src/index';
import {
  LIFECYCLE_EVENT_SOURCE,
  LIFECYCLE_EVENT_TYPES,
  LIFECYCLE_REASONS,
  type LifecycleChange,
  type LifecycleEventType,
  type LifecycleReason,
  lifecycleEvent,
  type LifecycleEvent as ServiceLifecycleEvent,
} from '../../shared/events/lifecycle-event';
import { busEntry } from '../../shared/events/publisher';
import type { AuthorizerStatus } from '../../shared/store/token-store';
import { ROOT } from '../e2e/sandbox-process';
import { AUTHORIZER_APPID, COMPONENT_APPID, T0 } from '../support/test-ids';

const SCHEMA = JSON.parse(
  readFileSync(join(ROOT, 'client', 'schemas', 'lifecycle-event.schema.json'), 'utf8')
);
const validate = new Ajv2020({ strict: true, allErrors: true }).compile(SCHEMA);

/** Every type with each reason it is published for, and the statuses it leaves (docs/events.md table). */
const CHANGES: readonly Omit<LifecycleChange, 'authorizerAppId' | 'at'>[] = [
  { type: 'authorized', reason: 'redirect', status: 'active', permissionSetIds: [15, 1, 2] },
  { type: 'authorized', reason: 'push', status: 'without_api_permission', permissionSetIds: [1] },
  {
    type: 'authorized',
    reason: 'reconciliation',
    status: 'awaiting_authorization_code',
    permissionSetIds: [],
  },
  { type: 'permissions_changed', reason: 'push', status: 'active', permissionSetIds: [1, 1, 17] },
  { type: 'revoked', reason: 'push', status: 'revoked', permissionSetIds: [1, 15] },
  {
    type: 'revoked',
    reason: 'revocation_confirmed_by_list',
    status: 'revoked',
    permissionSetIds: [1],
  },
  {
    type: 'needs_reauthorization',
    reason: 'refresh_token_rejected_not_listed',
    status: 'needs_reauthorization',
    permissionSetIds: [1, 2],
  },
  {
    type: 'recovered',
    reason: 'refresh_token_found_in_list',
    status: 'active',
    permissionSetIds: [1, 2],
  },
  { type: 'reactivated', reason: 'reconciliation', status: 'active', permissionSetIds: [18, 17] },
];

/** What the service publishes for `change`: the outbox's event, built by the service's own code. */
const published = (change: (typeof CHANGES)[number], at = T0): ServiceLifecycleEvent =>
  lifecycleEvent(COMPONENT_APPID, { ...change, authorizerAppId: AUTHORIZER_APPID, at });

const authorized = () => published(CHANGES[0]!);

function errorsOf(detail: unknown): string[] {
  return validate(detail)
    ? []
    : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
}

describe('the lifecycle-event JSON Schema', () => {
  it.each(CHANGES.map((change) => [change.type, change.reason, change] as const))(
    'accepts a published %s event (reason %s)',
    (type, reason, change) => {
      const detail = published(change);

      expect(errorsOf(detail)).toEqual([]);
      expect(detail).toMatchObject({ type, reason, schemaVersion: 1 });
    }
  );

  it('is checked above with every type, reason and status the service has', () => {
    expect(new Set(CHANGES.map((c) => c.type))).toEqual(new Set(LIFECYCLE_EVENT_TYPES));
    expect(new Set(CHANGES.map((c) => c.reason))).toEqual(new Set(LIFECYCLE_REASONS));
    expect(new Set(CHANGES.map((c) => c.status))).toEqual(new Set(CLIENT_STATUSES));
  });

  it("names exactly the service's types, reasons and statuses, as the client does", () => {
    const { properties } = SCHEMA as Record<'properties', Record<string, { enum: string[] }>>;

    expect(properties.type?.enum).toEqual([...LIFECYCLE_EVENT_TYPES]);
    expect(properties.reason?.enum).toEqual([...LIFECYCLE_REASONS]);
    expect(properties.status?.enum).toEqual([...CLIENT_STATUSES]);
    expect([...CLIENT_TYPES]).toEqual([...LIFECYCLE_EVENT_TYPES]);
    expect([...CLIENT_REASONS]).toEqual([...LIFECYCLE_REASONS]);
  });

  it('accepts events at any time of day, and fields added within the version', () => {
    const later = published(CHANGES[4]!, T0 + 123_456_789);

    expect(errorsOf(later)).toEqual([]);
    expect(errorsOf({ ...later, addedLater: 'x' })).toEqual([]);
  });

  it.each([
    ['without authorizerAppId', (d: Record<string, unknown>) => delete d.authorizerAppId],
    ['without permissionSetIds', (d: Record<string, unknown>) => delete d.permissionSetIds],
    ['without id', (d: Record<string, unknown>) => delete d.id],
  ])('refuses an event %s', (_, mutate) => {
    const detail: Record<string, unknown> = { ...authorized() };
    mutate(detail);

    expect(errorsOf(detail).join('\n')).toMatch(/must have required property/);
  });

  it.each([
    ['another schemaVersion', { schemaVersion: 2 }, '/schemaVersion must be equal to constant'],
    ['an unknown type', { type: 'deleted' }, '/type must be equal to one of the allowed values'],
    [
      'an unknown reason',
      { reason: 'manual' },
      '/reason must be equal to one of the allowed values',
    ],
    [
      'an unknown status',
      { status: 'paused' },
      '/status must be equal to one of the allowed values',
    ],
    [
      'a permission set id as text',
      { permissionSetIds: ['1'] },
      '/permissionSetIds/0 must be integer',
    ],
    [
      'a permission set twice',
      { permissionSetIds: [1, 1] },
      '/permissionSetIds must NOT have duplicate items (items ## 1 and 0 are identical)',
    ],
    ['an epoch-ms time', { time: T0 }, '/time must be string'],
    [
      'a time with an offset',
      { time: '2027-01-15T16:00:00+08:00' },
      '/time must match pattern "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{3})?Z$"',
    ],
    ['an id that is no digest', { id: 'evt-1' }, '/id must match pattern "^[0-9a-f]{32}$"'],
    [
      'a malformed appid',
      { authorizerAppId: 'gh_3c884a361561' },
      '/authorizerAppId must match pattern "^wx[0-9a-zA-Z]{14,30}$"',
    ],
  ])('refuses an event with %s', (_, change, error) => {
    expect(errorsOf({ ...authorized(), ...change })).toContain(error);
  });

  it("types what the service publishes as the client's types (checked by npm run typecheck)", () => {
    const service: ServiceLifecycleEvent = authorized();
    const { detailType, time } = busEntry(service);

    const detail: ClientLifecycleEvent = service;
    const envelope: LifecycleBusEvent = {
      source: LIFECYCLE_EVENT_SOURCE,
      'detail-type': detailType as ClientLifecycleEventType,
      time,
      detail,
    };

    expectTypeOf<ServiceLifecycleEvent>().toExtend<ClientLifecycleEvent>();
    expectTypeOf<ClientLifecycleEvent>().toExtend<ServiceLifecycleEvent>();
    expectTypeOf<ClientLifecycleEventType>().toEqualTypeOf<LifecycleEventType>();
    expectTypeOf<ClientLifecycleReason>().toEqualTypeOf<LifecycleReason>();
    expectTypeOf<LifecycleAuthorizerStatus>().toEqualTypeOf<AuthorizerStatus>();
    expect(envelope).toEqual({
      source: 'wechat-token-service',
      'detail-type': 'authorized',
      time: service.time,
      detail: service,
    });
  });
});
