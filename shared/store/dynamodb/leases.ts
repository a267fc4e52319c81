/**
 * The lease on the records WeChat refreshes (component token, authorizer, authorization code): taking it on
 * an unchanged version, giving it up with the reason, and writing as its holder. Every write here is
 * conditional on the lease, so only the caller that won `claim` ever writes what WeChat answered, and a
 * holder whose lease expired and was taken over writes nothing (docs/callers.md, "What `expiresAt` promises": one
 * writer per record).
 *
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
 */
import { ConcurrentUpdateError } from '../../errors';
import { releaseWrite } from '../record-rules';
import type { LeaseClaim, LeasedRef, ReleaseOutcome } from '../token-store';
import { key, strip, update } from './items';
import type { Table } from './table';

/**
 * Takes the lease on a record still at `expectedVersion` whose lease is free or expired at `now`. A
 * component token or an authorizer's ticket is created by its first claim, and an authorizer by its first
 * code exchange's (a lease-only item); authorization codes exist before they are leased.
 *
 * @throws ConcurrentUpdateError when the record changed or someone else holds the lease.
 */
export async function claim(
  table: Table,
  ref: LeasedRef,
  expectedVersion: number,
  lease: LeaseClaim,
  now: number
): Promise<void> {
  const creatable = ref.kind !== 'auth_code' && expectedVersion === 0;
  const set = {
    leaseOwner: lease.owner,
    leaseUntil: lease.until,
    ...(ref.kind === 'auth_code' ? {} : { componentAppId: ref.componentAppId }),
    ...(ref.kind === 'authorizer' || ref.kind === 'authorizer_ticket'
      ? { authorizerAppId: ref.authorizerAppId }
      : {}),
    ...(ref.kind === 'authorizer_ticket' ? { type: ref.type } : {}),
  };
  const u = update(set, [], ['#version = if_not_exists(#version, :zero)']);
  // An authorizer is claimed at version 0 by the first exchange of its code: the claim is then a
  // lease-only item without `status`, which readers see as no record (tokens.ts `getAuthorizer`).
  const versionCheck =
    ref.kind === 'authorizer' && creatable
      ? '(attribute_not_exists(pk) OR (#version = :expected AND attribute_not_exists(#status)))'
      : creatable
        ? '(attribute_not_exists(pk) OR #version = :expected)'
        : '(attribute_exists(pk) AND #version = :expected)';
  await table.update({
    Key: { pk: key.of(ref) },
    ...u,
    ExpressionAttributeNames: {
      ...u.ExpressionAttributeNames,
      '#version': 'version',
      ...(ref.kind === 'authorizer' && creatable ? { '#status': 'status' } : {}),
    },
    ConditionExpression: `${versionCheck} AND (attribute_not_exists(#leaseUntil) OR #leaseUntil < :now)`,
    ExpressionAttributeValues: {
      ...u.values,
      ':zero': 0,
      ':expected': expectedVersion,
      ':now': now,
    },
  });
}

/**
 * Gives up the lease, recording the outcome: an authorization code counts the attempt, a token keeps its
 * last error and may have its `expiresAt` capped. A no-op when the lease was lost meanwhile.
 */
export async function release(
  table: Table,
  ref: LeasedRef,
  owner: string,
  outcome: ReleaseOutcome,
  now: number
): Promise<void> {
  const { fields, countsAttempt: counted, expiresAtCap } = releaseWrite(ref.kind, outcome, now);
  // A code's next attempt is stored as `refreshAt`, the `due` index's sort key (`items.ts` `strip`).
  const { nextAttemptAt, ...rest } = fields;
  const stored: Record<string, unknown> =
    nextAttemptAt === undefined ? rest : { ...rest, refreshAt: nextAttemptAt };
  const capped = expiresAtCap !== undefined;
  if (capped) stored.expiresAt = expiresAtCap;
  const u = update(
    stored,
    [],
    counted ? ['#attempts = if_not_exists(#attempts, :zero) + :one'] : []
  );
  const names = {
    ...u.ExpressionAttributeNames,
    '#owner': 'leaseOwner',
    ...(counted ? { '#attempts': 'attempts' } : {}),
  };
  const values = { ...u.values, ':owner': owner, ...(counted ? { ':zero': 0, ':one': 1 } : {}) };
  // A cap only ever lowers the expiry: the condition keeps a later, longer-lived token's value.
  const condition = capped
    ? '#owner = :owner AND (attribute_not_exists(#expiresAt) OR #expiresAt > :expiresAt)'
    : '#owner = :owner';
  try {
    await table.update({
      Key: { pk: key.of(ref) },
      UpdateExpression: u.UpdateExpression,
      ExpressionAttributeNames: names,
      ConditionExpression: condition,
      ExpressionAttributeValues: values,
    });
  } catch (error) {
    if (!(error instanceof ConcurrentUpdateError)) throw error;
    if (capped) await release(table, ref, owner, { ...outcome, expiresAt: undefined }, now);
  }
}

/**
 * Writes `fields` as the lease holder and ends the lease: `version + 1`, `remove` dropped, the record as
 * written returned. `extra` adds a record kind's own condition (an authorizer must still be active).
 *
 * @throws ConcurrentUpdateError when `owner` no longer holds the lease or `extra` does not hold.
 */
export async function saveAsOwner<T>(
  table: Table,
  pk: string,
  owner: string,
  fields: Record<string, unknown>,
  remove: string[],
  extra?: { condition: string; names: Record<string, string>; values: Record<string, unknown> }
): Promise<T> {
  const u = update(fields, ['leaseOwner', 'leaseUntil', ...remove], ['#version = #version + :one']);
  const result = await table.update({
    Key: { pk },
    UpdateExpression: u.UpdateExpression,
    ExpressionAttributeNames: {
      ...u.ExpressionAttributeNames,
      '#version': 'version',
      '#owner': 'leaseOwner',
      ...extra?.names,
    },
    ConditionExpression: extra ? `#owner = :owner AND ${extra.condition}` : '#owner = :owner',
    ExpressionAttributeValues: { ...u.values, ':one': 1, ':owner': owner, ...extra?.values },
    ReturnValues: 'ALL_NEW',
  });
  return strip<T>(result.Attributes) as T;
}
