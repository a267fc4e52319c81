import { createHash } from 'node:crypto';
import type { EpochMs } from '../clock';
import type { AuthorizerRecord, AuthorizerStatus } from '../store/token-store';

/**
 * Lifecycle events: what the platform's other services learn when a merchant's authorization changes.
 * Published on the stack's EventBridge bus with `source` {@link LIFECYCLE_EVENT_SOURCE} and the event's name
 * as `detail-type`; the `detail` is a {@link LifecycleEvent}. It never carries a token. docs/events.md
 * ("Lifecycle events") documents the schema for consumers.
 *
 * @see https://docs.aws.amazon.com/eventbridge/latest/ref/events-structure.html
 */

/** EventBridge `source` of every lifecycle event. */
export const LIFECYCLE_EVENT_SOURCE = 'wechat-token-service';

/** Bumped only for a change a consumer must adapt to; fields are only ever added within a version. */
export const LIFECYCLE_EVENT_SCHEMA_VERSION = 1;

/**
 * - `authorized`: a merchant authorized the platform (first time, or again after a revocation or the loss of
 *   its refresh token);
 * - `permissions_changed`: an authorized merchant's permission sets, or its API permission, changed;
 * - `revoked`: the merchant cancelled the authorization;
 * - `needs_reauthorization`: WeChat rejected the refresh token and no longer lists the merchant;
 * - `recovered`: a rejected refresh token was replaced by the one WeChat's list has (tokens keep flowing);
 * - `reactivated`: the reconciliation found a merchant held as revoked or needing re-authorization
 *   authorized again at WeChat.
 */
export const LIFECYCLE_EVENT_TYPES = [
  'authorized',
  'permissions_changed',
  'revoked',
  'needs_reauthorization',
  'recovered',
  'reactivated',
] as const;
export type LifecycleEventType = (typeof LIFECYCLE_EVENT_TYPES)[number];

/**
 * Why the change happened:
 * - `redirect`, `push`: the authorization code arrived on the redirect or in an `authorized` /
 *   `updateauthorized` push; `push` is also the `unauthorized` push;
 * - `reconciliation`: `api_get_authorizer_list` showed an authorization that never reached the service;
 * - `revocation_confirmed_by_list`: WeChat answered 61003 and its complete list no longer has the merchant;
 * - `refresh_token_rejected_not_listed`: WeChat rejected the refresh token (61023), or none was stored, and
 *   its complete list no longer has the merchant;
 * - `refresh_token_found_in_list`: WeChat rejected the refresh token and its list had another one.
 */
export const LIFECYCLE_REASONS = [
  'redirect',
  'push',
  'reconciliation',
  'revocation_confirmed_by_list',
  'refresh_token_rejected_not_listed',
  'refresh_token_found_in_list',
] as const;
export type LifecycleReason = (typeof LIFECYCLE_REASONS)[number];

/** An event's `detail`. */
export interface LifecycleEvent {
  /**
   * Identifies the change: every record of the same change has the same id (a digest of the fields below),
   * so consumers drop duplicates by it; delivery is at least once.
   */
  id: string;
  schemaVersion: typeof LIFECYCLE_EVENT_SCHEMA_VERSION;
  type: LifecycleEventType;
  componentAppId: string;
  authorizerAppId: string;
  /** The authorizer's status after the change. */
  status: AuthorizerStatus;
  /**
   * The permission-set ids (权限集, `func_info`) of the authorization, ascending; for `revoked` and
   * `needs_reauthorization` those the ended authorization had.
   */
  permissionSetIds: number[];
  reason: LifecycleReason;
  /**
   * When the change happened (ISO 8601, UTC): the authorization's time (the push's `CreateTime`, the
   * redirect's arrival, or WeChat's `auth_time` for a reconciliation), the `unauthorized` push's
   * `CreateTime`, or when the service established it.
   */
  time: string;
}

/** A change as the code that made it describes it; {@link lifecycleEvent} derives the id. */
export type LifecycleChange = Omit<
  LifecycleEvent,
  'id' | 'schemaVersion' | 'componentAppId' | 'permissionSetIds' | 'time'
> & {
  permissionSetIds: readonly number[];
  /** See {@link LifecycleEvent.time}. */
  at: EpochMs;
};

/**
 * The event for `change`, with an id that is the same for every record of the same change (a digest of
 * what the event says): a duplicate push, or two handlers storing one authorization, give one id.
 */
export function lifecycleEvent(componentAppId: string, change: LifecycleChange): LifecycleEvent {
  const content: Omit<LifecycleEvent, 'id'> = {
    schemaVersion: LIFECYCLE_EVENT_SCHEMA_VERSION,
    type: change.type,
    componentAppId,
    authorizerAppId: change.authorizerAppId,
    status: change.status,
    permissionSetIds: [...new Set(change.permissionSetIds)].sort((a, b) => a - b),
    reason: change.reason,
    time: new Date(change.at).toISOString(),
  };
  const id = createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 32);
  return { id, ...content };
}

const ENDED: ReadonlySet<AuthorizerStatus> = new Set(['revoked', 'needs_reauthorization']);

export const samePermissions = (a: readonly number[], b: readonly number[]) =>
  new Set(a).size === new Set(b).size && a.every((id) => b.includes(id));

/**
 * Which event, if any, storing an authorization makes, given the record it replaces: `authorized` for a
 * merchant unknown or ended here (`reactivated` when the reconciliation found it), `permissions_changed`
 * when an authorized one's permission sets or API permission differ, nothing when nothing a consumer sees
 * changed (e.g. the reconciliation importing what the code exchange stores later).
 */
export function authorizationEventType(
  previous: AuthorizerRecord | undefined,
  next: { status: AuthorizerStatus; funcInfo: readonly number[] },
  reason: LifecycleReason
): LifecycleEventType | undefined {
  if (!previous || ENDED.has(previous.status)) {
    return previous && reason === 'reconciliation' ? 'reactivated' : 'authorized';
  }
  if (previous.status === next.status && samePermissions(previous.funcInfo, next.funcInfo)) {
    return undefined;
  }
  return 'permissions_changed';
}
