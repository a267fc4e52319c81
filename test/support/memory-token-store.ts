import { ConcurrentUpdateError, InvalidRequestError } from '../../shared/errors';
import {
  authorizationFields,
  CLEARED_BY_TOKEN_SAVE,
  endAuthorizationWrite,
  type FieldWrite,
  finishAuthCodeFields,
  isRenewable,
  newAuthCode,
  releaseWrite,
  ticketRetirable,
  tokenSaveFields,
} from '../../shared/store/record-rules';
import {
  authorizerDueKey,
  authorizerDuePartitions,
  legacyAuthorizerDueKey,
  ticketDueKey,
  ticketDuePartitions,
} from '../../shared/store/table-schema';
import type {
  AuthCodeRecord,
  AuthorizerRecord,
  AuthorizerStatus,
  AuthorizerSummary,
  AuthorizerTicketRecord,
  AuthorizerTicketType,
  BudgetWindow,
  ComponentTokenRecord,
  DuePartition,
  LeaseClaim,
  LeasedRef,
  NewAuthorization,
  OutboxEventRecord,
  Page,
  PendingEvent,
  ReleaseOutcome,
  RunJob,
  RunRecord,
  TicketRecord,
  TokenStore,
} from '../../shared/store/token-store';

type AnyRecord = ComponentTokenRecord | AuthorizerRecord | AuthCodeRecord | AuthorizerTicketRecord;
const clone = <T>(value: T): T => structuredClone(value);
const conflict = () => new ConcurrentUpdateError('the item changed or is leased by another writer');
/** Writes `fields` onto `record` in place, removing those whose value is `undefined`. */
function assignFields(record: object, fields: FieldWrite): void {
  const target = record as Record<string, unknown>;
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) delete target[name];
    else target[name] = value;
  }
}

/** In-memory `TokenStore` with the adapter's semantics; the contract suite keeps the two in step. */
/** The record's pending events with `event` appended, as the DynamoDB adapter's `list_append` does. */
function withPending(
  current: { pendingEvents?: PendingEvent[] } | undefined,
  event: PendingEvent | undefined
): { pendingEvents?: PendingEvent[] } {
  const pending = [...(current?.pendingEvents ?? []), ...(event ? [event] : [])];
  return pending.length > 0 || current?.pendingEvents ? { pendingEvents: pending } : {};
}

export class MemoryTokenStore implements TokenStore {
  readonly tickets = new Map<string, TicketRecord>();
  readonly componentTokens = new Map<string, ComponentTokenRecord>();
  readonly authorizers = new Map<string, AuthorizerRecord>();
  readonly authCodes = new Map<string, AuthCodeRecord>();
  /** Authorizers' `getticket` tickets by `componentAppId#authorizerAppId#type`. */
  readonly authorizerTickets = new Map<string, AuthorizerTicketRecord>();
  /** The ticket records on the `due` index (saved and not retired since), by the same id. */
  readonly dueTickets = new Set<string>();
  /** Budget counts by `componentAppId#name#startsAt`. */
  readonly budgets = new Map<string, number>();
  /**
   * Authorizers (`componentAppId#authorizerAppId`) still on the `due` partition of before sharding, as an
   * earlier release wrote them; their next save moves them to their shard, like the adapter's.
   */
  readonly legacyDue = new Set<string>();
  /** Lifecycle events by `componentAppId#id`. */
  readonly outbox = new Map<string, OutboxEventRecord>();
  /** The last run of each scheduled job, by `componentAppId#job`. */
  readonly runs = new Map<string, RunRecord>();

  #records(ref: LeasedRef): [Map<string, AnyRecord>, string] {
    switch (ref.kind) {
      case 'component_token':
        return [this.componentTokens as Map<string, AnyRecord>, ref.componentAppId];
      case 'authorizer':
        return [
          this.authorizers as Map<string, AnyRecord>,
          `${ref.componentAppId}#${ref.authorizerAppId}`,
        ];
      case 'auth_code':
        return [this.authCodes as Map<string, AnyRecord>, `${ref.componentAppId}#${ref.code}`];
      case 'authorizer_ticket':
        return [
          this.authorizerTickets as Map<string, AnyRecord>,
          `${ref.componentAppId}#${ref.authorizerAppId}#${ref.type}`,
        ];
    }
  }

  async getTicket(componentAppId: string) {
    return clone(this.tickets.get(componentAppId));
  }

  async putTicket(record: TicketRecord) {
    const current = this.tickets.get(record.componentAppId);
    if (current && current.createTime >= record.createTime) return false;
    this.tickets.set(record.componentAppId, clone(record));
    return true;
  }

  async getComponentToken(componentAppId: string) {
    return clone(this.componentTokens.get(componentAppId));
  }

  async getAuthorizer(componentAppId: string, authorizerAppId: string) {
    const record = this.authorizers.get(`${componentAppId}#${authorizerAppId}`);
    return record?.status === undefined ? undefined : clone(record);
  }

  async getAuthCode(componentAppId: string, code: string) {
    return clone(this.authCodes.get(`${componentAppId}#${code}`));
  }

  async claim(ref: LeasedRef, expectedVersion: number, lease: LeaseClaim, now: number) {
    const [map, id] = this.#records(ref);
    const current = map.get(id);
    if (!current) {
      if (ref.kind === 'auth_code' || expectedVersion !== 0) throw conflict();
      map.set(id, {
        componentAppId: ref.componentAppId,
        ...(ref.kind === 'authorizer' || ref.kind === 'authorizer_ticket'
          ? { authorizerAppId: ref.authorizerAppId }
          : {}),
        ...(ref.kind === 'authorizer_ticket' ? { type: ref.type } : {}),
        version: 0,
        leaseOwner: lease.owner,
        leaseUntil: lease.until,
      } as ComponentTokenRecord);
      return;
    }
    if (ref.kind === 'authorizer' && expectedVersion === 0 && 'status' in current) {
      if (current.status !== undefined) throw conflict();
    }
    if (current.version !== expectedVersion) throw conflict();
    if (current.leaseUntil !== undefined && current.leaseUntil >= now) throw conflict();
    current.leaseOwner = lease.owner;
    current.leaseUntil = lease.until;
  }

  async release(ref: LeasedRef, owner: string, outcome: ReleaseOutcome, now: number) {
    const [map, id] = this.#records(ref);
    const current = map.get(id);
    if (!current || current.leaseOwner !== owner) return;
    const { fields, countsAttempt, expiresAtCap } = releaseWrite(ref.kind, outcome, now);
    assignFields(current, fields);
    if (countsAttempt && 'code' in current) current.attempts += 1;
    if (
      expiresAtCap !== undefined &&
      (current.expiresAt === undefined || current.expiresAt > expiresAtCap)
    ) {
      current.expiresAt = expiresAtCap;
    }
  }

  #takeAsOwner<T extends AnyRecord>(map: Map<string, AnyRecord>, id: string, owner: string): T {
    const current = map.get(id);
    if (!current || current.leaseOwner !== owner) throw conflict();
    return current as T;
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
  ) {
    const current = this.#takeAsOwner<ComponentTokenRecord>(
      this.componentTokens as Map<string, AnyRecord>,
      componentAppId,
      owner
    );
    const next: ComponentTokenRecord = {
      componentAppId,
      ...tokenSaveFields(token, now),
      version: current.version + 1,
    };
    this.componentTokens.set(componentAppId, next);
    return clone(next);
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
  ) {
    const id = `${componentAppId}#${authorizerAppId}`;
    const current = this.#takeAsOwner<AuthorizerRecord>(
      this.authorizers as Map<string, AnyRecord>,
      id,
      owner
    );
    if (current.status !== 'active') throw conflict();
    if (expectedVersion !== undefined && current.version !== expectedVersion) throw conflict();
    const rest: AuthorizerRecord = { ...current };
    assignFields(rest, { leaseOwner: undefined, leaseUntil: undefined });
    for (const name of CLEARED_BY_TOKEN_SAVE) delete rest[name];
    const next: AuthorizerRecord = {
      ...rest,
      ...tokenSaveFields(token, now),
      version: current.version + 1,
    };
    this.authorizers.set(id, next);
    this.legacyDue.delete(id);
    return clone(next);
  }

  async replaceRefreshToken(
    componentAppId: string,
    authorizerAppId: string,
    expected: string | undefined,
    refreshToken: string,
    now: number,
    extra: { authorizedAt?: number; funcInfo?: number[]; event?: PendingEvent } = {}
  ) {
    const current = this.authorizers.get(`${componentAppId}#${authorizerAppId}`);
    if (current?.status !== 'active' || current.refreshToken !== expected) return false;
    current.refreshToken = refreshToken;
    if (extra.authorizedAt !== undefined) current.authorizedAt = extra.authorizedAt;
    if (extra.funcInfo !== undefined) current.funcInfo = [...extra.funcInfo];
    Object.assign(current, withPending(current, extra.event));
    current.updatedAt = now;
    return true;
  }

  async saveAuthorization(a: NewAuthorization, now: number) {
    const id = `${a.componentAppId}#${a.authorizerAppId}`;
    const current = this.authorizers.get(id);
    if (current && current.authorizedAt > a.authorizedAt) return false;
    if (a.expectedVersion !== undefined && (current?.version ?? 0) !== a.expectedVersion) {
      return false;
    }
    const fields = authorizationFields(a, now);
    const next = {
      ...current,
      version: (current?.version ?? 0) + 1,
      ...withPending(current, a.event),
    } as AuthorizerRecord;
    assignFields(next, { ...fields, funcInfo: [...fields.funcInfo] });
    this.authorizers.set(id, next);
    this.legacyDue.delete(id);
    return true;
  }

  async endAuthorization(
    componentAppId: string,
    authorizerAppId: string,
    status: Exclude<AuthorizerStatus, 'active'>,
    guard: { eventTime: number; expectedRefreshToken?: string; event?: PendingEvent },
    now: number
  ) {
    const id = `${componentAppId}#${authorizerAppId}`;
    const current = this.authorizers.get(id);
    if (current && current.authorizedAt > guard.eventTime) return false;
    if (
      guard.expectedRefreshToken !== undefined &&
      current?.refreshToken !== guard.expectedRefreshToken
    ) {
      return false;
    }
    const { fields, ifAbsent } = endAuthorizationWrite(
      { componentAppId, authorizerAppId },
      status,
      guard.eventTime,
      now
    );
    const next = {
      ...current,
      funcInfo: current?.funcInfo ?? ifAbsent.funcInfo,
      authorizedAt: current?.authorizedAt ?? ifAbsent.authorizedAt,
      version: (current?.version ?? 0) + 1,
      ...withPending(current, guard.event),
    } as AuthorizerRecord;
    assignFields(next, fields);
    this.legacyDue.delete(id);
    this.authorizers.set(id, next);
    return true;
  }

  async settlePendingEvent(componentAppId: string, authorizerAppId: string, id: string) {
    const current = this.authorizers.get(`${componentAppId}#${authorizerAppId}`);
    if (current?.pendingEvents) {
      current.pendingEvents = current.pendingEvents.filter((event) => event.id !== id);
    }
  }

  async listAuthorizersWithPendingEvents(
    componentAppId: string,
    options: { limit: number; cursor?: string }
  ) {
    const matching = [...this.authorizers.values()]
      .filter(
        (a) =>
          a.componentAppId === componentAppId &&
          (a.pendingEvents?.length ?? 0) > 0 &&
          (options.cursor === undefined || a.authorizerAppId > options.cursor)
      )
      .sort((x, y) => (x.authorizerAppId < y.authorizerAppId ? -1 : 1));
    const items = matching.slice(0, options.limit).map((a) => clone(a) as AuthorizerRecord);
    const last = items.at(-1);
    return {
      items,
      ...(matching.length > options.limit && last ? { cursor: last.authorizerAppId } : {}),
    };
  }

  duePartitions(componentAppId: string): DuePartition[] {
    return authorizerDuePartitions(componentAppId).map((id) => ({ componentAppId, id }));
  }

  #duePartitionOf(a: AuthorizerRecord): string {
    return this.legacyDue.has(`${a.componentAppId}#${a.authorizerAppId}`)
      ? legacyAuthorizerDueKey(a.componentAppId)
      : authorizerDueKey(a.componentAppId, a.authorizerAppId);
  }

  async listDueAuthorizers(
    partition: DuePartition,
    now: number,
    limit: number,
    cursor?: string
  ): Promise<Page<AuthorizerRecord>> {
    const due = [...this.authorizers.values()]
      .filter(
        (a) =>
          a.componentAppId === partition.componentAppId &&
          isRenewable(a.status) &&
          this.#duePartitionOf(a) === partition.id &&
          a.refreshAt !== undefined &&
          a.refreshAt <= now
      )
      .sort((x, y) => (x.refreshAt as number) - (y.refreshAt as number));
    const start = cursor ? Number(cursor) : 0;
    const items = due.slice(start, start + limit).map(clone);
    const next = start + limit;
    return { items, cursor: next < due.length ? String(next) : undefined };
  }

  async putAuthCode(
    record: Omit<AuthCodeRecord, 'version' | 'status' | 'attempts' | 'nextAttemptAt'>
  ) {
    const id = `${record.componentAppId}#${record.code}`;
    const existing = this.authCodes.get(id);
    if (existing) {
      if (record.authorizerAppId && !existing.authorizerAppId) {
        existing.authorizerAppId = record.authorizerAppId;
      }
      return { created: false, record: clone(existing) };
    }
    const created = newAuthCode(record);
    this.authCodes.set(id, clone(created));
    return { created: true, record: created };
  }

  async finishAuthCode(
    componentAppId: string,
    code: string,
    owner: string,
    outcome: { status: 'exchanged' | 'failed'; authorizerAppId?: string; outcomeCode?: string },
    now: number
  ) {
    const id = `${componentAppId}#${code}`;
    const current = this.#takeAsOwner<AuthCodeRecord>(
      this.authCodes as Map<string, AnyRecord>,
      id,
      owner
    );
    const next: AuthCodeRecord = { ...current, version: current.version + 1 };
    assignFields(next, {
      leaseOwner: undefined,
      leaseUntil: undefined,
      ...finishAuthCodeFields(outcome, now),
    });
    this.authCodes.set(id, next);
    return clone(next);
  }

  async listPendingAuthCodes(componentAppId: string, now: number, limit: number) {
    return [...this.authCodes.values()]
      .filter(
        (c) =>
          c.componentAppId === componentAppId &&
          c.status === 'pending' &&
          c.nextAttemptAt !== undefined &&
          c.nextAttemptAt <= now
      )
      .slice(0, limit)
      .map(clone);
  }

  async getAuthorizerTicket(
    componentAppId: string,
    authorizerAppId: string,
    type: AuthorizerTicketType
  ) {
    return clone(this.authorizerTickets.get(`${componentAppId}#${authorizerAppId}#${type}`));
  }

  async saveAuthorizerTicket(
    componentAppId: string,
    authorizerAppId: string,
    type: AuthorizerTicketType,
    owner: string,
    ticket: {
      ticket: string;
      expiresAt: number;
      refreshAt: number;
      forcedAt?: number;
      requestedAt?: number;
      servedAt?: number;
    },
    now: number
  ) {
    const id = `${componentAppId}#${authorizerAppId}#${type}`;
    const current = this.#takeAsOwner<AuthorizerTicketRecord>(
      this.authorizerTickets as Map<string, AnyRecord>,
      id,
      owner
    );
    const next: AuthorizerTicketRecord = { ...current };
    assignFields(next, { leaseOwner: undefined, leaseUntil: undefined });
    for (const name of CLEARED_BY_TOKEN_SAVE) delete next[name];
    assignFields(next, { ...tokenSaveFields(ticket, now), version: current.version + 1 });
    this.authorizerTickets.set(id, next);
    this.dueTickets.add(id);
    return clone(next);
  }

  async noteTicketServed(
    componentAppId: string,
    authorizerAppId: string,
    type: AuthorizerTicketType,
    servedAt: number,
    notBefore: number
  ) {
    const current = this.authorizerTickets.get(`${componentAppId}#${authorizerAppId}#${type}`);
    if (!current || (current.servedAt !== undefined && current.servedAt >= notBefore)) return false;
    current.servedAt = servedAt;
    return true;
  }

  ticketDuePartitions(componentAppId: string): DuePartition[] {
    return ticketDuePartitions(componentAppId).map((id) => ({ componentAppId, id }));
  }

  async listDueTickets(
    partition: DuePartition,
    now: number,
    limit: number,
    cursor?: string
  ): Promise<Page<AuthorizerTicketRecord>> {
    const due = [...this.authorizerTickets.entries()]
      .filter(
        ([id, t]) =>
          this.dueTickets.has(id) &&
          t.componentAppId === partition.componentAppId &&
          ticketDueKey(t.componentAppId, t.authorizerAppId) === partition.id &&
          t.refreshAt !== undefined &&
          t.refreshAt <= now
      )
      .map(([, t]) => t)
      .sort((x, y) => (x.refreshAt as number) - (y.refreshAt as number));
    const start = cursor ? Number(cursor) : 0;
    const items = due.slice(start, start + limit).map(clone);
    const next = start + limit;
    return { items, cursor: next < due.length ? String(next) : undefined };
  }

  async retireTicket(
    componentAppId: string,
    authorizerAppId: string,
    type: AuthorizerTicketType,
    servedBefore: number,
    now: number
  ) {
    const id = `${componentAppId}#${authorizerAppId}#${type}`;
    const current = this.authorizerTickets.get(id);
    if (!current || !ticketRetirable(current, servedBefore)) return false;
    this.dueTickets.delete(id);
    current.updatedAt = now;
    return true;
  }

  async spendBudget(window: BudgetWindow, limit: number) {
    const id = `${window.componentAppId}#${window.name}#${window.startsAt}`;
    const used = this.budgets.get(id) ?? 0;
    if (used >= limit) return false;
    this.budgets.set(id, used + 1);
    return true;
  }

  async putOutboxEvent(
    record: Omit<OutboxEventRecord, 'attempts' | 'publishedAt' | 'lastError' | 'publishAt'> & {
      publishAt: number;
    }
  ) {
    const id = `${record.componentAppId}#${record.id}`;
    if (this.outbox.has(id)) return false;
    this.outbox.set(id, { ...clone(record), attempts: 0 });
    return true;
  }

  async listDueOutboxEvents(componentAppId: string, now: number, limit: number) {
    return [...this.outbox.values()]
      .filter(
        (e) =>
          e.componentAppId === componentAppId && e.publishAt !== undefined && e.publishAt <= now
      )
      .sort((x, y) => (x.publishAt as number) - (y.publishAt as number))
      .slice(0, limit)
      .map(clone);
  }

  async markOutboxEventPublished(componentAppId: string, id: string, now: number) {
    const current = this.outbox.get(`${componentAppId}#${id}`);
    if (!current) return;
    delete current.publishAt;
    current.publishedAt = now;
  }

  async deferOutboxEvent(
    componentAppId: string,
    id: string,
    failure: { retryAt: number; error: string }
  ) {
    const current = this.outbox.get(`${componentAppId}#${id}`);
    if (current?.publishAt === undefined) return;
    current.publishAt = failure.retryAt;
    current.lastError = failure.error;
    current.attempts += 1;
  }

  /** In appid order; the cursor is the last appid listed. */
  async listAuthorizers(
    componentAppId: string,
    options: { status?: AuthorizerStatus; limit: number; cursor?: string }
  ): Promise<Page<AuthorizerSummary>> {
    const { cursor } = options;
    if (cursor !== undefined && !/^wx[0-9A-Za-z]+$/.test(cursor)) {
      throw new InvalidRequestError('the cursor is not one this service issued');
    }
    const matching = [...this.authorizers.values()]
      .filter(
        (a) =>
          a.componentAppId === componentAppId &&
          a.status !== undefined &&
          (options.status === undefined || a.status === options.status) &&
          (cursor === undefined || a.authorizerAppId > cursor)
      )
      .sort((x, y) => (x.authorizerAppId < y.authorizerAppId ? -1 : 1));
    const items = matching
      .slice(0, options.limit)
      .map(({ accessToken: _a, refreshToken: _r, leaseOwner: _o, ...summary }) => clone(summary));
    const last = items.at(-1);
    return matching.length > options.limit && last
      ? { items, cursor: last.authorizerAppId }
      : { items };
  }

  async putRunRecord(record: RunRecord) {
    const id = `${record.componentAppId}#${record.job}`;
    const current = this.runs.get(id);
    if (current && current.finishedAt >= record.finishedAt) return false;
    this.runs.set(id, clone(record));
    return true;
  }

  async getRunRecord(componentAppId: string, job: RunJob) {
    return clone(this.runs.get(`${componentAppId}#${job}`));
  }
}
