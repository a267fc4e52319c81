/**
 * Where an authorizer record starts and ends: an authorization stored (a code exchange, a recovery, a
 * reconciliation import) and an authorization ended (revoked, or beyond renewal). Neither takes the lease;
 * they are ordered by when they happened instead: neither applies over a newer authorization
 * (`authorizedAt`), so a late push cannot undo a re-authorization. A stored authorization leaves a renewal's
 * lease in place, and the holder's save then finds the version moved (docs/callers.md, "What `expiresAt` promises":
 * one writer per record); an ended one drops the lease and its tokens and leaves the `due` index.
 */

import { authorizationFields, endAuthorizationWrite, isRenewable } from '../record-rules';
import type { AuthorizerStatus, NewAuthorization, PendingEvent } from '../token-store';
import { key, update } from './items';
import { appendPendingEvent } from './pending-events';
import { applied, type Table } from './table';

/**
 * Stores an authorization: active with its tokens, or `without_api_permission` when WeChat issued no refresh
 * token. False when a newer authorization is stored or the record is no longer at `expectedVersion`.
 */
export async function saveAuthorization(
  table: Table,
  a: NewAuthorization,
  now: number
): Promise<boolean> {
  const withEvent = appendPendingEvent(a.event);
  const fields = authorizationFields(a, now);
  const u = update(
    {
      ...fields,
      dueKey: isRenewable(fields.status)
        ? key.dueAuthorizers(a.componentAppId, a.authorizerAppId)
        : undefined,
    },
    [],
    ['#version = if_not_exists(#version, :zero) + :one', ...withEvent.clauses]
  );
  const versionCheck =
    a.expectedVersion === undefined
      ? ''
      : a.expectedVersion === 0
        ? ' AND attribute_not_exists(#status)'
        : ' AND #version = :expected';
  return applied(
    table.update({
      Key: { pk: key.authorizer(a.componentAppId, a.authorizerAppId) },
      UpdateExpression: u.UpdateExpression,
      ExpressionAttributeNames: {
        ...u.ExpressionAttributeNames,
        ...withEvent.names,
        '#version': 'version',
        '#status': 'status',
      },
      // A record not there, or only a first exchange's lease (no `status`, no `authorizedAt`), is new.
      ConditionExpression: `(attribute_not_exists(#authorizedAt) OR #authorizedAt <= :authorizedAt)${versionCheck}`,
      ExpressionAttributeValues: {
        ...u.values,
        ...withEvent.values,
        ':zero': 0,
        ':one': 1,
        ...(a.expectedVersion ? { ':expected': a.expectedVersion } : {}),
      },
    })
  );
}

/**
 * Ends an authorization: drops its tokens and lease and takes it off the `due` index, or leaves a tombstone
 * for an unknown authorizer. False when the stored authorization is newer than `guard.eventTime`, or its
 * refresh token is no longer `guard.expectedRefreshToken`.
 */
export async function endAuthorization(
  table: Table,
  componentAppId: string,
  authorizerAppId: string,
  status: Exclude<AuthorizerStatus, 'active'>,
  guard: { eventTime: number; expectedRefreshToken?: string; event?: PendingEvent },
  now: number
): Promise<boolean> {
  const withEvent = appendPendingEvent(guard.event);
  const { fields, ifAbsent } = endAuthorizationWrite(
    { componentAppId, authorizerAppId },
    status,
    guard.eventTime,
    now
  );
  // An ended authorizer is never renewed (`isRenewable`), so it leaves the `due` index.
  const u = update(
    { ...fields, dueKey: undefined },
    [],
    [
      '#version = if_not_exists(#version, :zero) + :one',
      '#funcInfo = if_not_exists(#funcInfo, :noFuncInfo)',
      '#authorizedAt = if_not_exists(#authorizedAt, :notAuthorizedAt)',
      ...withEvent.clauses,
    ]
  );
  const tokenCheck =
    guard.expectedRefreshToken === undefined ? '' : ' AND #refreshToken = :expectedRefreshToken';
  return applied(
    table.update({
      Key: { pk: key.authorizer(componentAppId, authorizerAppId) },
      UpdateExpression: u.UpdateExpression,
      ExpressionAttributeNames: {
        ...u.ExpressionAttributeNames,
        ...withEvent.names,
        '#version': 'version',
        '#funcInfo': 'funcInfo',
        '#authorizedAt': 'authorizedAt',
      },
      ConditionExpression: `(attribute_not_exists(#authorizedAt) OR #authorizedAt <= :eventTime)${tokenCheck}`,
      ExpressionAttributeValues: {
        ...u.values,
        ...withEvent.values,
        ':zero': 0,
        ':one': 1,
        ':noFuncInfo': ifAbsent.funcInfo,
        ':notAuthorizedAt': ifAbsent.authorizedAt,
        ':eventTime': guard.eventTime,
        ...(guard.expectedRefreshToken === undefined
          ? {}
          : { ':expectedRefreshToken': guard.expectedRefreshToken }),
      },
    })
  );
}
