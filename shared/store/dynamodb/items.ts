/**
 * The token table's item layout, with no I/O: the key of every record kind, how long items outlive their
 * use, the domain view of an item and the `SET … REMOVE …` builder every update uses. One place for the key
 * scheme, so that no two record kinds can share a key by accident.
 *
 * @see ../../../docs/performance.md, "Scaling the sweep" (the `due` index partitions)
 */
import type { UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { authCodeDueKey, authorizerDueKey, ticketDueKey } from '../table-schema';
import type { AuthorizerTicketType, BudgetWindow, LeasedRef, RunJob } from '../token-store';

export type Item = Record<string, unknown>;

/** Items are kept this long after they stop mattering, for diagnosis, then DynamoDB's TTL removes them. */
export const RETENTION_SECONDS = 7 * 24 * 3600;

/** The partition key of every record kind, and the `due` index partitions they are listed under. */
export const key = {
  ticket: (c: string) => `COMPONENT#${c}#TICKET`,
  componentToken: (c: string) => `COMPONENT#${c}#TOKEN`,
  authorizer: (c: string, a: string) => `AUTHORIZER#${c}#${a}`,
  authCode: (c: string, code: string) => `AUTHCODE#${c}#${code}`,
  /** Not under `AUTHORIZER#…`: the operators' listing scans that prefix for authorizers only. */
  authorizerTicket: (c: string, a: string, type: AuthorizerTicketType) =>
    `AUTHORIZER_TICKET#${c}#${a}#${type}`,
  dueTickets: ticketDueKey,
  dueAuthorizers: authorizerDueKey,
  dueAuthCodes: authCodeDueKey,
  outboxEvent: (c: string, id: string) => `EVENT#${c}#${id}`,
  dueOutboxEvents: (c: string) => `EVENT_DUE#${c}`,
  run: (c: string, job: RunJob) => `COMPONENT#${c}#LAST_RUN#${job}`,
  budget: (w: BudgetWindow) => `BUDGET#${w.componentAppId}#${w.name}#${w.startsAt}`,
  of(ref: LeasedRef): string {
    switch (ref.kind) {
      case 'component_token':
        return key.componentToken(ref.componentAppId);
      case 'authorizer':
        return key.authorizer(ref.componentAppId, ref.authorizerAppId);
      case 'auth_code':
        return key.authCode(ref.componentAppId, ref.code);
      case 'authorizer_ticket':
        return key.authorizerTicket(ref.componentAppId, ref.authorizerAppId, ref.type);
    }
  },
};

/** Drops the physical attributes (keys, index, TTL) so callers only see domain fields. */
export function strip<T>(item: Item | undefined): T | undefined {
  if (!item) return undefined;
  const {
    pk: _pk,
    dueKey: _dueKey,
    ttl: _ttl,
    refreshAt,
    ...rest
  } = item as Item & {
    refreshAt?: number;
  };
  if (typeof rest.code === 'string') {
    return { ...rest, nextAttemptAt: refreshAt } as T;
  }
  return { ...rest, ...(refreshAt === undefined ? {} : { refreshAt }) } as T;
}

/** Builds `SET a = :a, …` / `REMOVE …` from plain objects; values may reference extra expressions. */
export function update(
  set: Record<string, unknown>,
  remove: string[] = [],
  extraSet: string[] = []
): Pick<UpdateCommandInput, 'UpdateExpression' | 'ExpressionAttributeNames'> & {
  values: Record<string, unknown>;
} {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const clauses: string[] = [...extraSet];
  for (const [name, value] of Object.entries(set)) {
    if (value === undefined) {
      remove.push(name);
      continue;
    }
    names[`#${name}`] = name;
    values[`:${name}`] = value;
    clauses.push(`#${name} = :${name}`);
  }
  for (const name of remove) names[`#${name}`] = name;
  const removeClause = remove.length ? ` REMOVE ${remove.map((n) => `#${n}`).join(', ')}` : '';
  return {
    UpdateExpression: `SET ${clauses.join(', ')}${removeClause}`,
    ExpressionAttributeNames: names,
    values,
  };
}
