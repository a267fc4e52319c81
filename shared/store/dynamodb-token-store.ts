import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError, InvalidRequestError, StoreUnavailableError } from '../errors';
import { TICKET_LIFETIME_MS } from '../tokens/policy';
import {
  authCodeDueKey,
  authorizerDueKey,
  authorizerDuePartitions,
  TABLE_SCHEMA,
} from './table-schema';
import type {
  AuthCodeRecord,
  AuthorizerRecord,
  AuthorizerStatus,
  AuthorizerSummary,
  BudgetWindow,
  ComponentTokenRecord,
  DuePartition,
  LeaseClaim,
  LeasedRef,
  NewAuthorization,
  OutboxEventRecord,
  Page,
  ReleaseOutcome,
  RunJob,
  RunRecord,
  TicketRecord,
  TokenStore,
} from './token-store';

/** Items are kept this long after they stop mattering, for diagnosis, then DynamoDB's TTL removes them. */
const RETENTION_SECONDS = 7 * 24 * 3600;
/** A budget count is useless once its window closed; an hour later DynamoDB's TTL may remove it. */
const BUDGET_RETENTION_SECONDS = 3600;

const key = {
  ticket: (c: string) => `COMPONENT#${c}#TICKET`,
  componentToken: (c: string) => `COMPONENT#${c}#TOKEN`,
  authorizer: (c: string, a: string) => `AUTHORIZER#${c}#${a}`,
  authCode: (c: string, code: string) => `AUTHCODE#${c}#${code}`,
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
    }
  },
};

type Item = Record<string, unknown>;

/** What an operator listing reads of an authorizer: everything but its tokens and lease owner. */
const SUMMARY_ATTRIBUTES = [
  'pk',
  'status',
  'componentAppId',
  'authorizerAppId',
  'funcInfo',
  'refreshAt',
  'issuedAt',
  'requestedAt',
  'expiresAt',
  'forcedAt',
  'reportCheckedAt',
  'authorizedAt',
  'endedAt',
  'lastErrorCode',
  'updatedAt',
  'version',
  'leaseUntil',
] as const;
/** Scan requests (up to 1 MB read each) one `listAuthorizers` page may take before answering short. */
const SCAN_REQUESTS_PER_PAGE = 4;

const encodeKey = (k: Item) => Buffer.from(JSON.stringify(k)).toString('base64url');

/** The Scan's start key from a `listAuthorizers` cursor: `{pk}` and nothing else. */
function scanStartKey(cursor: string | undefined): Item | undefined {
  if (cursor === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const k = decoded as Item | undefined;
  if (!k || typeof k !== 'object' || typeof k.pk !== 'string' || Object.keys(k).length !== 1) {
    throw new InvalidRequestError('the cursor is not one this service issued');
  }
  return { pk: k.pk };
}

/** Drops the physical attributes (keys, index, TTL) so callers only see domain fields. */
function strip<T>(item: Item | undefined): T | undefined {
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
function update(
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

/**
 * `TokenStore` on one DynamoDB table (architecture §2). Every write is a single-item conditional write, so
 * no transactions are needed (dynalite, used in tests and the sandbox, has none) and a lost race surfaces as
 * `ConcurrentUpdateError`. Reads are strongly consistent: a reader right after a refresh sees the new token.
 *
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
 */
export class DynamoDbTokenStore implements TokenStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string
  ) {}

  async getTicket(componentAppId: string): Promise<TicketRecord | undefined> {
    return strip(await this.#get(key.ticket(componentAppId)));
  }

  async putTicket(record: TicketRecord): Promise<boolean> {
    try {
      await this.#send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: key.ticket(record.componentAppId),
            ...record,
            ttl: Math.floor((record.createTime + TICKET_LIFETIME_MS) / 1000) + RETENTION_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR createTime < :createTime',
          ExpressionAttributeValues: { ':createTime': record.createTime },
        })
      );
      return true;
    } catch (error) {
      if (error instanceof ConcurrentUpdateError) return false;
      throw error;
    }
  }

  async getComponentToken(componentAppId: string): Promise<ComponentTokenRecord | undefined> {
    return strip(await this.#get(key.componentToken(componentAppId)));
  }

  async getAuthorizer(componentAppId: string, authorizerAppId: string) {
    return strip<AuthorizerRecord>(
      await this.#get(key.authorizer(componentAppId, authorizerAppId))
    );
  }

  async getAuthCode(componentAppId: string, code: string) {
    return strip<AuthCodeRecord>(await this.#get(key.authCode(componentAppId, code)));
  }

  async claim(ref: LeasedRef, expectedVersion: number, lease: LeaseClaim, now: number) {
    const creatable = ref.kind === 'component_token' && expectedVersion === 0;
    const set =
      ref.kind === 'component_token'
        ? { leaseOwner: lease.owner, leaseUntil: lease.until, componentAppId: ref.componentAppId }
        : { leaseOwner: lease.owner, leaseUntil: lease.until };
    const u = update(set, [], ['#version = if_not_exists(#version, :zero)']);
    const versionCheck = creatable
      ? '(attribute_not_exists(pk) OR #version = :expected)'
      : '(attribute_exists(pk) AND #version = :expected)';
    await this.#update({
      Key: { pk: key.of(ref) },
      ...u,
      ExpressionAttributeNames: { ...u.ExpressionAttributeNames, '#version': 'version' },
      ConditionExpression: `${versionCheck} AND (attribute_not_exists(#leaseUntil) OR #leaseUntil < :now)`,
      ExpressionAttributeValues: {
        ...u.values,
        ':zero': 0,
        ':expected': expectedVersion,
        ':now': now,
      },
    });
  }

  async release(
    ref: LeasedRef,
    owner: string,
    outcome: ReleaseOutcome,
    now: number
  ): Promise<void> {
    const counted = ref.kind === 'auth_code';
    const fields: Record<string, unknown> = counted
      ? { outcomeCode: outcome.errorCode, updatedAt: now }
      : { lastErrorCode: outcome.errorCode, updatedAt: now };
    if (outcome.retryAt !== undefined) fields.refreshAt = outcome.retryAt;
    if (counted && outcome.uncertainAt !== undefined) fields.uncertainAt = outcome.uncertainAt;
    if (counted && outcome.authorizerAppId !== undefined) {
      fields.authorizerAppId = outcome.authorizerAppId;
    }
    if (!counted && outcome.reportCheckedAt !== undefined) {
      fields.reportCheckedAt = outcome.reportCheckedAt;
    }
    const capped = !counted && outcome.expiresAt !== undefined;
    if (capped) fields.expiresAt = outcome.expiresAt;
    const u = update(
      fields,
      ['leaseOwner', 'leaseUntil'],
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
      await this.#update({
        Key: { pk: key.of(ref) },
        UpdateExpression: u.UpdateExpression,
        ExpressionAttributeNames: names,
        ConditionExpression: condition,
        ExpressionAttributeValues: values,
      });
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
      if (capped) await this.release(ref, owner, { ...outcome, expiresAt: undefined }, now);
    }
  }

  async saveComponentToken(
    componentAppId: string,
    owner: string,
    token: {
      accessToken: string;
      expiresAt: number;
      refreshAt: number;
      forcedAt?: number;
      requestedAt?: number;
    },
    now: number
  ): Promise<ComponentTokenRecord> {
    return this.#saveAsOwner<ComponentTokenRecord>(
      key.componentToken(componentAppId),
      owner,
      { ...token, requestedAt: token.requestedAt ?? now, issuedAt: now, updatedAt: now },
      ['lastErrorCode', 'reportCheckedAt']
    );
  }

  async saveAuthorizerToken(
    componentAppId: string,
    authorizerAppId: string,
    owner: string,
    token: {
      accessToken: string;
      expiresAt: number;
      refreshAt: number;
      refreshToken: string;
      forcedAt?: number;
      requestedAt?: number;
    },
    now: number,
    expectedVersion?: number
  ): Promise<AuthorizerRecord> {
    const versionCheck = expectedVersion === undefined ? '' : ' AND #version = :expected';
    return this.#saveAsOwner<AuthorizerRecord>(
      key.authorizer(componentAppId, authorizerAppId),
      owner,
      {
        ...token,
        requestedAt: token.requestedAt ?? now,
        issuedAt: now,
        dueKey: key.dueAuthorizers(componentAppId, authorizerAppId),
        updatedAt: now,
      },
      ['lastErrorCode', 'reportCheckedAt'],
      {
        condition: `#status = :active${versionCheck}`,
        names: { '#status': 'status' },
        values: {
          ':active': 'active',
          ...(expectedVersion === undefined ? {} : { ':expected': expectedVersion }),
        },
      }
    );
  }

  async replaceRefreshToken(
    componentAppId: string,
    authorizerAppId: string,
    expected: string | undefined,
    refreshToken: string,
    now: number
  ): Promise<boolean> {
    try {
      await this.#update({
        Key: { pk: key.authorizer(componentAppId, authorizerAppId) },
        UpdateExpression: 'SET #refreshToken = :refreshToken, #updatedAt = :now',
        ConditionExpression:
          expected === undefined
            ? '#status = :active AND attribute_not_exists(#refreshToken)'
            : '#status = :active AND #refreshToken = :expected',
        ExpressionAttributeNames: {
          '#refreshToken': 'refreshToken',
          '#updatedAt': 'updatedAt',
          '#status': 'status',
        },
        ExpressionAttributeValues: {
          ':refreshToken': refreshToken,
          ':now': now,
          ':active': 'active',
          ...(expected === undefined ? {} : { ':expected': expected }),
        },
      });
      return true;
    } catch (error) {
      if (error instanceof ConcurrentUpdateError) return false;
      throw error;
    }
  }

  async saveAuthorization(a: NewAuthorization, now: number): Promise<boolean> {
    const tokened = Boolean(a.refreshToken && a.accessToken);
    const issuedAt = a.issuedAt ?? now;
    const u = update(
      {
        componentAppId: a.componentAppId,
        authorizerAppId: a.authorizerAppId,
        status: (a.refreshToken ? 'active' : 'without_api_permission') satisfies AuthorizerStatus,
        accessToken: a.refreshToken ? a.accessToken : undefined,
        expiresAt: tokened ? a.expiresAt : undefined,
        issuedAt: tokened ? issuedAt : undefined,
        requestedAt: tokened ? (a.requestedAt ?? issuedAt) : undefined,
        refreshToken: a.refreshToken,
        funcInfo: a.funcInfo,
        refreshAt: a.refreshToken ? a.refreshAt : undefined,
        dueKey: a.refreshToken
          ? key.dueAuthorizers(a.componentAppId, a.authorizerAppId)
          : undefined,
        authorizedAt: a.authorizedAt,
        updatedAt: now,
      },
      ['endedAt', 'lastErrorCode', 'reportCheckedAt'],
      ['#version = if_not_exists(#version, :zero) + :one']
    );
    const versionCheck =
      a.expectedVersion === undefined
        ? ''
        : a.expectedVersion === 0
          ? ' AND attribute_not_exists(pk)'
          : ' AND #version = :expected';
    try {
      await this.#update({
        Key: { pk: key.authorizer(a.componentAppId, a.authorizerAppId) },
        UpdateExpression: u.UpdateExpression,
        ExpressionAttributeNames: { ...u.ExpressionAttributeNames, '#version': 'version' },
        ConditionExpression: `(attribute_not_exists(pk) OR #authorizedAt <= :authorizedAt)${versionCheck}`,
        ExpressionAttributeValues: {
          ...u.values,
          ':zero': 0,
          ':one': 1,
          ...(a.expectedVersion ? { ':expected': a.expectedVersion } : {}),
        },
      });
      return true;
    } catch (error) {
      if (error instanceof ConcurrentUpdateError) return false;
      throw error;
    }
  }

  async endAuthorization(
    componentAppId: string,
    authorizerAppId: string,
    status: Exclude<AuthorizerStatus, 'active'>,
    guard: { eventTime: number; expectedRefreshToken?: string },
    now: number
  ): Promise<boolean> {
    const u = update(
      { componentAppId, authorizerAppId, status, endedAt: guard.eventTime, updatedAt: now },
      [
        'accessToken',
        'expiresAt',
        'issuedAt',
        'refreshToken',
        'dueKey',
        'refreshAt',
        'leaseOwner',
        'leaseUntil',
      ],
      [
        '#version = if_not_exists(#version, :zero) + :one',
        '#funcInfo = if_not_exists(#funcInfo, :empty)',
        '#authorizedAt = if_not_exists(#authorizedAt, :zero)',
      ]
    );
    const tokenCheck =
      guard.expectedRefreshToken === undefined ? '' : ' AND #refreshToken = :expectedRefreshToken';
    try {
      await this.#update({
        Key: { pk: key.authorizer(componentAppId, authorizerAppId) },
        UpdateExpression: u.UpdateExpression,
        ExpressionAttributeNames: {
          ...u.ExpressionAttributeNames,
          '#version': 'version',
          '#funcInfo': 'funcInfo',
          '#authorizedAt': 'authorizedAt',
        },
        ConditionExpression: `(attribute_not_exists(pk) OR #authorizedAt <= :eventTime)${tokenCheck}`,
        ExpressionAttributeValues: {
          ...u.values,
          ':zero': 0,
          ':one': 1,
          ':empty': [],
          ':eventTime': guard.eventTime,
          ...(guard.expectedRefreshToken === undefined
            ? {}
            : { ':expectedRefreshToken': guard.expectedRefreshToken }),
        },
      });
      return true;
    } catch (error) {
      if (error instanceof ConcurrentUpdateError) return false;
      throw error;
    }
  }

  duePartitions(componentAppId: string): DuePartition[] {
    return authorizerDuePartitions(componentAppId).map((id) => ({ componentAppId, id }));
  }

  async listDueAuthorizers(
    partition: DuePartition,
    now: number,
    limit: number,
    cursor?: string
  ): Promise<Page<AuthorizerRecord>> {
    const result = await this.#queryDue(partition.id, now, limit, cursor);
    return {
      items: result.items.map((item) => strip<AuthorizerRecord>(item) as AuthorizerRecord),
      cursor: result.cursor,
    };
  }

  async putAuthCode(
    record: Omit<AuthCodeRecord, 'version' | 'status' | 'attempts' | 'nextAttemptAt'>
  ): Promise<{ created: boolean; record: AuthCodeRecord }> {
    const created: AuthCodeRecord = {
      ...record,
      version: 0,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: record.receivedAt,
    };
    const { nextAttemptAt, ...fields } = created;
    try {
      await this.#send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: key.authCode(record.componentAppId, record.code),
            ...fields,
            dueKey: key.dueAuthCodes(record.componentAppId),
            refreshAt: nextAttemptAt,
            ttl: Math.floor(record.expiresAt / 1000) + RETENTION_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        })
      );
      return { created: true, record: created };
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
      const existing = await this.getAuthCode(record.componentAppId, record.code);
      if (!existing) throw error;
      return { created: false, record: existing };
    }
  }

  async finishAuthCode(
    componentAppId: string,
    code: string,
    owner: string,
    outcome: { status: 'exchanged' | 'failed'; authorizerAppId?: string; outcomeCode?: string },
    now: number
  ): Promise<AuthCodeRecord> {
    return this.#saveAsOwner<AuthCodeRecord>(
      key.authCode(componentAppId, code),
      owner,
      {
        status: outcome.status,
        outcomeCode: outcome.outcomeCode,
        ...(outcome.authorizerAppId ? { authorizerAppId: outcome.authorizerAppId } : {}),
        updatedAt: now,
      },
      ['dueKey', 'refreshAt']
    );
  }

  async listPendingAuthCodes(
    componentAppId: string,
    now: number,
    limit: number
  ): Promise<AuthCodeRecord[]> {
    const result = await this.#queryDue(key.dueAuthCodes(componentAppId), now, limit);
    return result.items.map((item) => strip<AuthCodeRecord>(item) as AuthCodeRecord);
  }

  async spendBudget(window: BudgetWindow, limit: number): Promise<boolean> {
    try {
      await this.#update({
        Key: { pk: key.budget(window) },
        UpdateExpression: 'SET #used = if_not_exists(#used, :zero) + :one, #ttl = :ttl',
        ConditionExpression: 'attribute_not_exists(#used) OR #used < :limit',
        ExpressionAttributeNames: { '#used': 'used', '#ttl': TABLE_SCHEMA.ttlAttribute },
        ExpressionAttributeValues: {
          ':zero': 0,
          ':one': 1,
          ':limit': limit,
          ':ttl': Math.ceil(window.endsAt / 1000) + BUDGET_RETENTION_SECONDS,
        },
      });
      return true;
    } catch (error) {
      if (error instanceof ConcurrentUpdateError) return false;
      throw error;
    }
  }

  async putOutboxEvent(
    record: Omit<OutboxEventRecord, 'attempts' | 'publishedAt' | 'lastError' | 'publishAt'> & {
      publishAt: number;
    }
  ): Promise<boolean> {
    const { publishAt, ...fields } = record;
    // UpdateItem, not PutItem: every function that may record an event already holds UpdateItem.
    const u = update({
      ...fields,
      attempts: 0,
      dueKey: key.dueOutboxEvents(record.componentAppId),
      refreshAt: publishAt,
    });
    try {
      await this.#update({
        Key: { pk: key.outboxEvent(record.componentAppId, record.id) },
        UpdateExpression: u.UpdateExpression,
        ExpressionAttributeNames: u.ExpressionAttributeNames,
        ExpressionAttributeValues: u.values,
        ConditionExpression: 'attribute_not_exists(pk)',
      });
      return true;
    } catch (error) {
      if (error instanceof ConcurrentUpdateError) return false;
      throw error;
    }
  }

  async listDueOutboxEvents(
    componentAppId: string,
    now: number,
    limit: number
  ): Promise<OutboxEventRecord[]> {
    const result = await this.#queryDue(key.dueOutboxEvents(componentAppId), now, limit);
    return result.items.map(({ pk: _pk, dueKey: _dueKey, ttl: _ttl, refreshAt, ...rest }) => ({
      ...(rest as Omit<OutboxEventRecord, 'publishAt'>),
      publishAt: refreshAt as number,
    }));
  }

  async markOutboxEventPublished(componentAppId: string, id: string, now: number): Promise<void> {
    const u = update(
      { publishedAt: now, [TABLE_SCHEMA.ttlAttribute]: Math.floor(now / 1000) + RETENTION_SECONDS },
      ['dueKey', 'refreshAt']
    );
    await this.#ignoringConflict({
      Key: { pk: key.outboxEvent(componentAppId, id) },
      UpdateExpression: u.UpdateExpression,
      ExpressionAttributeNames: u.ExpressionAttributeNames,
      ExpressionAttributeValues: u.values,
      ConditionExpression: 'attribute_exists(pk)',
    });
  }

  async deferOutboxEvent(
    componentAppId: string,
    id: string,
    failure: { retryAt: number; error: string }
  ): Promise<void> {
    const u = update(
      { refreshAt: failure.retryAt, lastError: failure.error },
      [],
      ['#attempts = #attempts + :one']
    );
    await this.#ignoringConflict({
      Key: { pk: key.outboxEvent(componentAppId, id) },
      UpdateExpression: u.UpdateExpression,
      ExpressionAttributeNames: { ...u.ExpressionAttributeNames, '#attempts': 'attempts' },
      ExpressionAttributeValues: { ...u.values, ':one': 1 },
      ConditionExpression: 'attribute_exists(dueKey)',
    });
  }

  async listAuthorizers(
    componentAppId: string,
    options: { status?: AuthorizerStatus; limit: number; cursor?: string }
  ): Promise<Page<AuthorizerSummary>> {
    const names = Object.fromEntries(SUMMARY_ATTRIBUTES.map((name, i) => [`#a${i}`, name]));
    const nameOf = (attribute: (typeof SUMMARY_ATTRIBUTES)[number]) =>
      `#a${SUMMARY_ATTRIBUTES.indexOf(attribute)}`;
    const statusFilter = options.status === undefined ? '' : ` AND ${nameOf('status')} = :status`;
    const items: Item[] = [];
    let start = scanStartKey(options.cursor);
    for (let request = 0; request < SCAN_REQUESTS_PER_PAGE; request++) {
      const result = await this.#send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: `begins_with(${nameOf('pk')}, :prefix)${statusFilter}`,
          ProjectionExpression: Object.keys(names).join(', '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: {
            ':prefix': key.authorizer(componentAppId, ''),
            ...(options.status === undefined ? {} : { ':status': options.status }),
          },
          ExclusiveStartKey: start,
        })
      );
      const found = (result.Items ?? []) as Item[];
      const room = options.limit - items.length;
      items.push(...found.slice(0, room));
      // A Scan may start after any key: a page cut short resumes right after its last item.
      start =
        found.length > room
          ? { pk: items.at(-1)?.pk }
          : (result.LastEvaluatedKey as Item | undefined);
      if (!start || items.length >= options.limit) break;
    }
    return {
      items: items.map((item) => strip<AuthorizerSummary>(item) as AuthorizerSummary),
      ...(start ? { cursor: encodeKey(start) } : {}),
    };
  }

  async putRunRecord(record: RunRecord): Promise<boolean> {
    try {
      await this.#send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: key.run(record.componentAppId, record.job), ...record },
          ConditionExpression: 'attribute_not_exists(pk) OR finishedAt < :finishedAt',
          ExpressionAttributeValues: { ':finishedAt': record.finishedAt },
        })
      );
      return true;
    } catch (error) {
      if (error instanceof ConcurrentUpdateError) return false;
      throw error;
    }
  }

  async getRunRecord(componentAppId: string, job: RunJob): Promise<RunRecord | undefined> {
    return strip<RunRecord>(await this.#get(key.run(componentAppId, job)));
  }

  /** An update whose failed condition means "nothing to do". */
  async #ignoringConflict(input: Omit<UpdateCommandInput, 'TableName'>): Promise<void> {
    try {
      await this.#update(input);
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
    }
  }

  async #queryDue(dueKey: string, now: number, limit: number, cursor?: string) {
    const result = await this.#send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: TABLE_SCHEMA.dueIndex.name,
        KeyConditionExpression: '#dueKey = :dueKey AND #refreshAt <= :now',
        ExpressionAttributeNames: { '#dueKey': 'dueKey', '#refreshAt': 'refreshAt' },
        ExpressionAttributeValues: { ':dueKey': dueKey, ':now': now },
        Limit: limit,
        ExclusiveStartKey: cursor
          ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
          : undefined,
      })
    );
    return {
      items: (result.Items ?? []) as Item[],
      cursor: result.LastEvaluatedKey
        ? Buffer.from(JSON.stringify(result.LastEvaluatedKey)).toString('base64url')
        : undefined,
    };
  }

  async #saveAsOwner<T>(
    pk: string,
    owner: string,
    fields: Record<string, unknown>,
    remove: string[],
    extra?: { condition: string; names: Record<string, string>; values: Record<string, unknown> }
  ): Promise<T> {
    const u = update(
      fields,
      ['leaseOwner', 'leaseUntil', ...remove],
      ['#version = #version + :one']
    );
    const result = await this.#update({
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

  async #get(pk: string): Promise<Item | undefined> {
    const result = await this.#send(
      new GetCommand({ TableName: this.tableName, Key: { pk }, ConsistentRead: true })
    );
    return result.Item;
  }

  #update(input: Omit<UpdateCommandInput, 'TableName'>) {
    return this.#send(new UpdateCommand({ TableName: this.tableName, ...input }));
  }

  // biome-ignore lint/suspicious/noExplicitAny: one funnel for every command type of the document client
  async #send<C extends { input: object }>(command: C): Promise<any> {
    try {
      // biome-ignore lint/suspicious/noExplicitAny: see above
      return await this.client.send(command as any);
    } catch (error) {
      if ((error as Error | undefined)?.name === 'ConditionalCheckFailedException') {
        throw new ConcurrentUpdateError('the item changed or is leased by another writer', {
          cause: error,
        });
      }
      throw new StoreUnavailableError('DynamoDB request failed', { cause: error });
    }
  }
}
