/**
 * Lifecycle events: what the platform's other services learn when a merchant's authorization (授权) changes,
 * as the token service publishes them on its EventBridge bus: `source` `wechat-token-service`, the event's
 * {@link LifecycleEventType} as `detail-type`, and a {@link LifecycleEvent} as `detail`. They carry no token,
 * ticket or code: only who, what, why and when. The JSON Schema
 * `@wechat-token-service/client/schemas/lifecycle-event.schema.json` checks a `detail` at run time; the
 * stack registers it in its EventBridge schema registry.
 *
 * @see ../../docs/events.md#lifecycle-events
 * @see https://docs.aws.amazon.com/eventbridge/latest/ref/events-structure.html
 */

/**
 * Every `detail-type` (and `detail.type`):
 * - `authorized`: a merchant authorized the platform (the first time, or again after a revocation or the
 *   loss of its refresh token);
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
 * - `reconciliation`: WeChat's authorizer list (`api_get_authorizer_list`) showed an authorization that
 *   never reached the service;
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

/**
 * The authorizer's status after a change; get-token answers the matching error `code` for all but
 * `active`:
 * - `active`: tokens are served;
 * - `without_api_permission`: the account has no API permission, so no token will ever be served;
 * - `awaiting_authorization_code`: found by the reconciliation without a refresh token: the merchant must
 *   update the authorization;
 * - `revoked`, `needs_reauthorization`: the authorization ended.
 */
export const LIFECYCLE_STATUSES = [
  'active',
  'revoked',
  'needs_reauthorization',
  'without_api_permission',
  'awaiting_authorization_code',
] as const;
export type LifecycleAuthorizerStatus = (typeof LIFECYCLE_STATUSES)[number];

/**
 * The `detail` of a lifecycle event (`schemaVersion` 1: fields may be added, never changed or removed
 * within a version).
 */
export interface LifecycleEvent {
  /**
   * Identifies the change: every delivery of the same change has the same id (a digest of the fields
   * below). Delivery is at least once: drop the events whose `id` you have seen.
   */
  id: string;
  schemaVersion: 1;
  /** The event, as in `detail-type`. */
  type: LifecycleEventType;
  /** The platform's (component) appid. */
  componentAppId: string;
  /** The merchant's account (official account or mini program). */
  authorizerAppId: string;
  /** The authorizer's status after the change. */
  status: LifecycleAuthorizerStatus;
  /**
   * The permission-set ids (权限集, `func_info`) of the authorization, ascending; for `revoked` and
   * `needs_reauthorization` those the ended authorization had.
   */
  permissionSetIds: number[];
  reason: LifecycleReason;
  /**
   * When the change happened (ISO 8601, UTC): the push's `CreateTime`, the redirect's arrival, WeChat's
   * `auth_time` for a reconciliation, or when the service established it; also the envelope's `time`.
   */
  time: string;
}

/**
 * What an EventBridge rule's target (a Lambda, an SQS queue's message body) receives for a lifecycle
 * event. EventBridge adds `version`, `id` (different for each delivery: deduplicate by `detail.id`),
 * `account`, `region` and `resources`; the sandbox's `GET /local/events` (and its webhook) show the four
 * fields the service sets.
 */
export interface LifecycleBusEvent {
  source: 'wechat-token-service';
  'detail-type': LifecycleEventType;
  /** `detail.time` (EventBridge writes it to the second). */
  time: string;
  detail: LifecycleEvent;
  version?: string;
  id?: string;
  account?: string;
  region?: string;
  resources?: string[];
}
