/**
 * The authorization code (授权码, `auth_code`) records. A code is stored before it is exchanged, once: a
 * second arrival (the redirect and the `authorized` push carry the same code) finds the first record instead
 * of writing over it, so a code exchanged or failed is never made pending again. A pending code is on the
 * `due` index (`refreshAt` is its next attempt) until its lease holder records the outcome; the item
 * outlives the code by the retention period, then DynamoDB's TTL removes it.
 */
import { ConcurrentUpdateError } from '../../errors';
import { finishAuthCodeFields, newAuthCode } from '../record-rules';
import type { AuthCodeRecord } from '../token-store';
import { key, RETENTION_SECONDS, strip } from './items';
import { saveAsOwner } from './leases';
import { applied, type Table } from './table';

export async function getAuthCode(table: Table, componentAppId: string, code: string) {
  return strip<AuthCodeRecord>(await table.get(key.authCode(componentAppId, code)));
}

/** Stores a new code as pending; returns the existing record instead when the code is already known. */
export async function putAuthCode(
  table: Table,
  record: Omit<AuthCodeRecord, 'version' | 'status' | 'attempts' | 'nextAttemptAt'>
): Promise<{ created: boolean; record: AuthCodeRecord }> {
  const created = newAuthCode(record);
  const { nextAttemptAt, ...fields } = created;
  try {
    await table.put({
      Item: {
        pk: key.authCode(record.componentAppId, record.code),
        ...fields,
        dueKey: key.dueAuthCodes(record.componentAppId),
        refreshAt: nextAttemptAt,
        ttl: Math.floor(record.expiresAt / 1000) + RETENTION_SECONDS,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    return { created: true, record: created };
  } catch (error) {
    if (!(error instanceof ConcurrentUpdateError)) throw error;
    if (record.authorizerAppId) await nameAuthorizer(table, record, record.authorizerAppId);
    const existing = await getAuthCode(table, record.componentAppId, record.code);
    if (!existing) throw error;
    return { created: false, record: existing };
  }
}

/**
 * Names the code's authorizer (learnt from the push) on a record stored without it; a no-op when the record
 * names one already. The version is left alone: naming changes no lease holder's decision but the one to
 * wait for the push, which every attempt reads again.
 */
async function nameAuthorizer(
  table: Table,
  record: { componentAppId: string; code: string },
  authorizerAppId: string
): Promise<void> {
  await applied(
    table.update({
      Key: { pk: key.authCode(record.componentAppId, record.code) },
      UpdateExpression: 'SET #a = :a',
      ExpressionAttributeNames: { '#a': 'authorizerAppId' },
      ExpressionAttributeValues: { ':a': authorizerAppId },
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#a)',
    })
  );
}

/**
 * Records the outcome of an exchange as the lease holder and takes the code off the `due` index.
 *
 * @throws ConcurrentUpdateError when `owner` lost the lease.
 */
export async function finishAuthCode(
  table: Table,
  componentAppId: string,
  code: string,
  owner: string,
  outcome: { status: 'exchanged' | 'failed'; authorizerAppId?: string; outcomeCode?: string },
  now: number
): Promise<AuthCodeRecord> {
  const { nextAttemptAt, ...fields } = finishAuthCodeFields(outcome, now);
  // A code's next attempt is its `refreshAt` on the `due` index (`items.ts` `strip`): none, off the index.
  return saveAsOwner<AuthCodeRecord>(
    table,
    key.authCode(componentAppId, code),
    owner,
    {
      ...fields,
      refreshAt: nextAttemptAt,
      dueKey: nextAttemptAt === undefined ? undefined : key.dueAuthCodes(componentAppId),
    },
    []
  );
}

/** Pending codes whose next attempt is due, from the `due` index. */
export async function listPendingAuthCodes(
  table: Table,
  componentAppId: string,
  now: number,
  limit: number
): Promise<AuthCodeRecord[]> {
  const result = await table.queryDue(key.dueAuthCodes(componentAppId), now, limit);
  return result.items.map((item) => strip<AuthCodeRecord>(item) as AuthCodeRecord);
}
