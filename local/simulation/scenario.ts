import { randomBytes } from 'node:crypto';
import type { ApiName } from '../../shared/wechat/wire';
import type { Fault } from '../simulator';
import { ACTOR_KINDS, type ActorKind } from './conductor';
import type { EpisodePlan, EpisodeStart, EpisodeType, Interleaver } from './interleaving';
import { InvariantViolation } from './invariants';
import type { Ledger, Merchant } from './ledger';
import type { Random } from './random';
import { LIST_PAGE_SIZE, type World } from './world';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Steps per simulated day at the schedule's 5-minute period. */
export const STEPS_PER_DAY = 288;

/** How long the service may take to reflect a change, by the channels that reached it. */
export const SETTLE = {
  /** Redirect and/or push delivered: exchanged at once, or by the next runs after a transient failure. */
  delivered: 20 * MINUTE,
  /** Neither reached us: the 6-hourly reconciliation imports it. */
  reconciled: 6 * HOUR + 20 * MINUTE,
  /** A revocation whose push was lost: noticed at the next renewal (61003 → the list) or a caller's report. */
  silentRevocation: 3 * HOUR,
} as const;

type Channels = 'both' | 'redirect' | 'push' | 'none';

/** Events per simulated day, on average; each step draws each with probability rate / 288. */
const RATES = {
  authorize: 1.2,
  reauthorize: 0.4,
  revoke: 0.25,
  revokeSilently: 0.25,
  rotateRefreshToken: 0.3,
  /** A merchant's refresh-token recovery reads a list that shifts between its pages (`#shiftListing`). */
  listShifts: 0.5,
  listWithoutRefreshToken: 0.15,
  withoutApiPermission: 0.2,
  lostAnswer: 3,
  serverError: 2,
  malformed: 1,
  busy: 1,
  quota: 0.2,
  hang: 0.4,
  pushesStop: 0.2,
  otherPushes: 1.5,
  forgedPushes: 2,
  misbehavingCaller: 0.5,
  /** WeChat acts, then answers -1 (protocol §11.10). */
  busyAfterProcessing: 1,
  /** A fault on getApiQuota, the call that checks a reported token. */
  checkFault: 0.5,
  /** Interleaved steps (`interleaving.ts`). */
  interleave: 8,
  /** DynamoDB refuses the next outbox writes (throttling): events must wait on their items, not vanish. */
  outboxRefused: 1,
  /** Our `success` to a push is lost on its way back: WeChat delivers it again, late (§11.9). */
  pushRedelivered: 3,
};

const FAULTY_APIS: readonly ApiName[] = [
  'api_component_token',
  'api_authorizer_token',
  'api_query_auth',
  'api_get_authorizer_list',
  'api_get_authorizer_info',
  'getApiQuota',
];

/** The APIs a -1 after WeChat acted hurts most: a consumed code, a token issued unseen. */
const BUSY_AFTER_PROCESSING_APIS: readonly ApiName[] = [
  'api_query_auth',
  'api_query_auth',
  'api_authorizer_token',
  'api_authorizer_token',
  'api_get_authorizer_info',
  'api_component_token',
];

const CHECK_FAULTS: readonly Fault[] = [
  { errcode: -1 },
  'timeout',
  'http500',
  'malformed',
  'busy_after_processing',
];

const EPISODE_TYPES: readonly EpisodeType[] = [
  'lapse',
  'lapse',
  'renew',
  'renew',
  'reauthorize',
  'reauthorize',
  'authorize',
  'revoke',
  'authorize-revoke',
];

/**
 * For each kind of episode, how likely each actor is to take part (drawn every time, in this order). The
 * channels of an authorization (callback, push) and the revocation's push are the episode's own.
 */
const ACTOR_ODDS: Record<EpisodeType, Partial<Record<ActorKind, number>>> = {
  lapse: {
    sweep: 0.8,
    inline: 0.8,
    report: 0.8,
    'false-report': 0.4,
    operator: 0.3,
    reconcile: 0.4,
  },
  renew: { operator: 1, sweep: 0.4, inline: 0.5, report: 0.3, 'false-report': 0.5, reconcile: 0.4 },
  reauthorize: {
    callback: 0.8,
    push: 0.8,
    sweep: 0.5,
    inline: 0.5,
    report: 0.7,
    'false-report': 0.4,
    operator: 0.3,
    reconcile: 0.5,
  },
  authorize: {
    callback: 0.8,
    push: 0.8,
    reconcile: 0.8,
    sweep: 0.6,
    inline: 0.6,
    report: 0.3,
    'false-report': 0.3,
  },
  revoke: {
    revoke: 1,
    sweep: 0.5,
    inline: 0.5,
    report: 0.6,
    'false-report': 0.4,
    operator: 0.3,
    reconcile: 0.5,
  },
  'authorize-revoke': {
    revoke: 1,
    callback: 0.8,
    push: 0.8,
    reconcile: 0.6,
    sweep: 0.4,
    inline: 0.4,
    report: 0.4,
  },
};

export interface ScenarioOptions {
  /** Interleaved steps per simulated day, on average. @default RATES.interleave */
  interleavePerDay?: number;
}

/** A caller that reports its valid token as invalid, over and over, for a while. */
export interface MisbehavingCaller {
  appId: string;
  until: number;
}

/**
 * The merchants' and WeChat's side of a simulated day, drawn from the seed: authorizations through every
 * combination of channels (redirect, push, both, neither), re-authorizations, revocations with and without
 * their push, refresh tokens rotated or listed empty, accounts without API permission, and faults on every
 * API (lost answers, 5xx, malformed answers, busy, -1 after WeChat acted, quota, hangs; getApiQuota too),
 * ticket pushes that stop, pushes the service does not handle (nested ones too), forged pushes, a caller
 * that reports valid tokens as invalid (half of the time while getApiQuota answers -1), and interleaved
 * steps: what happens at WeChat first (nothing, a lapse prepared the step before, a re-authorization, an
 * authorization, a revocation), then several actors for that merchant at once (`Interleaver`). Every draw
 * depends on the seed and the scenario's own record (the ledger), never on what the service did, so a seed
 * replays the same events.
 */
export class Scenario {
  #next = 1;
  readonly #deferred: { at: number; run: () => Promise<void> }[] = [];
  misbehaving: MisbehavingCaller | undefined;
  /** An interleaved step to prepare at the end of this step (`afterStep`), and one prepared for the next. */
  #toPrime: EpisodePlan | undefined;
  #primed: EpisodePlan | undefined;
  readonly #interleavePerDay: number;

  constructor(
    private readonly world: World,
    private readonly ledger: Ledger,
    private readonly random: Random,
    private readonly interleaver: Interleaver,
    options: ScenarioOptions = {}
  ) {
    this.#interleavePerDay = options.interleavePerDay ?? RATES.interleave;
  }

  /** The first merchants, authorized through both channels. */
  async begin(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.#authorize(this.#newAppId(), 'both', true);
  }

  async step(now: number): Promise<void> {
    for (const deferred of this.#deferred.filter((d) => d.at <= now)) {
      this.#deferred.splice(this.#deferred.indexOf(deferred), 1);
      await deferred.run();
    }
    const primed = this.#primed;
    this.#primed = undefined;
    if (primed) await this.#interleave(primed);
    const happens = (rate: number) => this.random.chance(rate / STEPS_PER_DAY);
    if (happens(RATES.authorize)) {
      const channels = this.random.pick<Channels>(['both', 'both', 'redirect', 'push', 'none']);
      await this.#authorize(this.#newAppId(), channels, true);
    }
    if (happens(RATES.withoutApiPermission)) {
      await this.#authorize(this.#newAppId(), this.random.pick(['both', 'redirect']), false);
    }
    const active = [...this.ledger.merchants.values()].filter(
      (m) => m.authorized && m.apiPermission
    );
    const revoked = [...this.ledger.merchants.values()].filter((m) => !m.authorized);
    if (happens(RATES.reauthorize) && active.length + revoked.length > 0) {
      const merchant = this.random.pick([...active, ...revoked]);
      await this.#authorize(
        merchant.appId,
        this.random.pick<Channels>(['both', 'redirect', 'push']),
        true
      );
    }
    if (happens(RATES.revoke) && active.length > 1)
      await this.#revoke(this.random.pick(active), true);
    if (happens(RATES.revokeSilently) && active.length > 1) {
      await this.#revoke(this.random.pick(active), false);
      // Callers meet the dead token and report it; the refresh that follows hangs half of the time.
      if (this.random.chance(0.5)) this.#fault('timeout', 2, 'api_authorizer_token');
    }
    if (happens(RATES.rotateRefreshToken) && active.length > 0) {
      const merchant = this.random.pick(active);
      this.world.simulator.rotateRefreshToken(merchant.appId);
      this.ledger.event(merchant.appId, now);
      this.ledger.note(now, `WeChat rotates ${merchant.appId}'s refresh token`);
      // The recovery that follows (61023 → the list) meets a malformed list answer half of the time: the
      // fault is armed for that recovery itself (the reconciliations of interleaved steps read the list
      // too, and would take a fault queued at WeChat first).
      if (this.random.chance(0.5)) {
        this.world.conductor.malformedListAfter61023(merchant.appId);
        this.ledger.fault(now, 'api_get_authorizer_list');
        this.ledger.note(now, `${merchant.appId}'s recovery meets a malformed list answer`);
      }
    }
    if (happens(RATES.listShifts)) await this.#shiftListing();
    if (happens(RATES.listWithoutRefreshToken) && active.length > 0) {
      const { appId } = this.random.pick(active);
      this.world.simulator.setListedWithoutRefreshToken(appId, true);
      this.world.simulator.rotateRefreshToken(appId);
      this.ledger.event(appId, now);
      this.ledger.note(now, `WeChat lists ${appId} without a refresh token for 2 h`);
      this.#defer(now + 2 * HOUR, async () => {
        this.world.simulator.setListedWithoutRefreshToken(appId, false);
      });
    }
    if (happens(RATES.lostAnswer)) this.#fault(this.random.pick(['lost', 'lost', 'lost_timeout']));
    if (happens(RATES.serverError)) this.#fault(this.random.pick(['http500', 'html', 'reset']));
    if (happens(RATES.malformed)) this.#fault('malformed');
    if (happens(RATES.busy)) this.#fault({ errcode: -1 }, 2);
    if (happens(RATES.quota)) this.#fault({ errcode: 45009 });
    if (happens(RATES.hang)) this.#fault('timeout', 2);
    if (happens(RATES.pushRedelivered)) {
      this.world.simulator.loseNextPushAnswers(2);
      this.ledger.note(
        now,
        'the answers to the next 2 pushes are lost: WeChat delivers them again'
      );
    }
    if (happens(RATES.outboxRefused)) {
      // For this step and the next: the writes of this step's changes, and of the next step's.
      this.world.events.refuseOutboxPuts(now + 10 * MINUTE);
      this.ledger.note(now, 'DynamoDB refuses outbox writes for 10 minutes');
    }
    if (happens(RATES.busyAfterProcessing)) {
      const api = this.random.pick(BUSY_AFTER_PROCESSING_APIS);
      this.#fault('busy_after_processing', 1 + this.random.int(2), api);
    }
    if (happens(RATES.checkFault)) this.#fault(this.random.pick(CHECK_FAULTS), 1, 'getApiQuota');
    if (happens(RATES.pushesStop)) {
      this.world.simulator.stopPushes();
      // api_start_push_ticket fails for a while too: pushes stay off for hours, not one retry.
      const failures = 1 + this.random.int(6);
      this.world.simulator.failNext('api_start_push_ticket', 'http500', failures);
      this.ledger.fault(now, 'api_start_push_ticket');
      this.ledger.note(now, `ticket pushes stop (${failures} restarts fail)`);
    }
    if (happens(RATES.otherPushes)) await this.#otherPush();
    if (happens(RATES.forgedPushes)) await this.#forgedPush();
    if (happens(RATES.misbehavingCaller) && !this.misbehaving && active.length > 0) {
      // No event: false reports must cost no renewal, so they get no allowance of WeChat calls.
      this.misbehaving = { appId: this.random.pick(active).appId, until: now + HOUR };
      this.ledger.note(now, `a caller starts reporting ${this.misbehaving.appId}'s valid tokens`);
      // Half of the time WeChat cannot tell whether they are alive meanwhile (getApiQuota answers -1): only
      // the report limits keep them from renewing the token every time.
      if (this.random.chance(0.5)) this.#fault({ errcode: -1 }, 80, 'getApiQuota');
    }
    if (this.misbehaving && this.misbehaving.until <= now) this.misbehaving = undefined;
    if (happens(this.#interleavePerDay) && !this.#toPrime && !primed) {
      const plan = this.#plan();
      if (plan?.primed) this.#toPrime = plan;
      else if (plan) await this.#interleave(plan);
    }
  }

  /**
   * The end of a step (after the schedule and the callers): prepares the interleaved step planned for the
   * next one (a `lapse`, half of the revocations). An operator renews the merchant and WeChat issues two
   * tokens, losing both answers: the stored token is capped to die with the next step, and due.
   */
  async afterStep(now: number): Promise<void> {
    const plan = this.#toPrime;
    this.#toPrime = undefined;
    if (!plan || !this.ledger.merchants.get(plan.appId)?.authorized) return;
    const { simulator } = this.world;
    simulator.clearFaults('api_authorizer_token');
    simulator.failNext('api_authorizer_token', 'lost', 2);
    this.ledger.fault(now, 'api_authorizer_token');
    this.ledger.event(plan.appId, now);
    this.ledger.note(now, `an operator renews ${plan.appId}; WeChat loses both answers`);
    await this.world.conductor.as('operator', () =>
      this.world.operatorRefresh(plan.appId).catch(() => undefined)
    );
    simulator.clearFaults('api_authorizer_token');
    this.#primed = plan;
  }

  /** An interleaved step: its kind, its merchant, its actors, its faults, all drawn from the seed. */
  #plan(): EpisodePlan | undefined {
    const type = this.random.pick(EPISODE_TYPES);
    const seed = this.random.int(2 ** 31);
    const odds = ACTOR_ODDS[type];
    const actors = ACTOR_KINDS.filter((kind) => this.random.chance(odds[kind] ?? 0));
    const channels = type === 'reauthorize' || type === 'authorize' || type === 'authorize-revoke';
    if (channels && !actors.includes('callback') && !actors.includes('push')) {
      actors.push('callback', 'push');
    }
    // At least two: the first of these the draw left out.
    const fillers: ActorKind[] = ['false-report', 'inline', 'report', 'sweep'];
    while (actors.length < 2)
      actors.push(fillers.find((kind) => !actors.includes(kind)) as ActorKind);
    // A revocation meets the schedule's renewal half of the time: prepared like a lapse.
    const primed = type === 'lapse' || (this.random.chance(0.5) && type === 'revoke');
    const checkFault = this.random.chance(0.3) ? this.random.pick(CHECK_FAULTS) : undefined;
    const faulty = this.random.chance(0.3);
    const faults: EpisodePlan['faults'] = [];
    if (faulty && channels) {
      const fault = this.random.pick<Fault>([
        'busy_after_processing',
        'busy_after_processing',
        'lost',
      ]);
      faults.push({ api: 'api_query_auth', fault, times: 1 });
    } else if (faulty) {
      faults.push({ api: 'api_authorizer_token', fault: 'busy_after_processing', times: 1 });
    }
    const merchants = [...this.ledger.merchants.values()];
    const active = merchants.filter((m) => m.authorized && m.apiPermission);
    const revoked = merchants.filter((m) => !m.authorized);
    let appId: string;
    if (type === 'authorize' || type === 'authorize-revoke') {
      const again = revoked.length > 0 && this.random.chance(0.5);
      appId = again ? this.random.pick(revoked).appId : this.#newAppId();
    } else {
      if (active.length < (type === 'revoke' ? 2 : 1)) return undefined;
      appId = this.random.pick(active).appId;
    }
    return {
      type,
      appId,
      actors,
      seed,
      primed,
      ...(checkFault === undefined ? {} : { checkFault }),
      faults,
    };
  }

  /** What happens at WeChat first, then the actors at once (`Interleaver.run`). */
  async #interleave(plan: EpisodePlan): Promise<void> {
    const { simulator } = this.world;
    const { appId, type, actors } = plan;
    const now = this.world.now();
    const merchant = this.ledger.merchants.get(appId);
    const delivered = actors.includes('callback') || actors.includes('push');
    const start: EpisodeStart = { now };
    const authorizes =
      type === 'reauthorize' || type === 'authorize' || type === 'authorize-revoke';
    // A merchant that revoked since the step was planned has no token left to renew or revoke.
    if (!authorizes && !merchant?.authorized) return;
    if (authorizes) {
      start.pushInfoType = merchant?.authorized ? 'updateauthorized' : 'authorized';
      // Half of the permission changes keep the tokens (protocol §11.12): then a code exchanged before its
      // push names the merchant mints a token that kills those callers hold, and nothing excuses it.
      const keepTokens =
        type === 'reauthorize' && merchant?.authorized === true && this.random.chance(0.5);
      start.code = simulator.authorize(appId, this.#permissionSets(merchant !== undefined), {
        apiPermission: true,
        keepTokens,
      });
      start.authorizedAt = Math.floor(now / 1000);
      this.ledger.merchants.set(appId, {
        appId,
        authorized: true,
        changedAt: now,
        settleBy: now + (delivered ? SETTLE.delivered : SETTLE.reconciled),
        apiPermission: true,
      });
    }
    if (type === 'authorize-revoke') this.world.tick(1000);
    if (type === 'revoke' || type === 'authorize-revoke') {
      // WeChat ends the authorization; its push is the `revoke` actor's, delivered among the others.
      await simulator.revoke(appId, { push: false });
      const ended = this.ledger.merchants.get(appId) as Merchant;
      ended.authorized = false;
      ended.changedAt = this.world.now();
      ended.settleBy = this.world.now() + SETTLE.delivered;
    }
    this.ledger.event(appId, now);
    this.ledger.note(now, `interleaved ${type} ${appId}: ${actors.join(', ')}`);
    await this.interleaver.run(plan, { ...start, now: this.world.now() });
  }

  #newAppId(): string {
    return `wxsim${String(this.#next++).padStart(11, '0')}`;
  }

  #defer(at: number, run: () => Promise<void>) {
    this.#deferred.push({ at, run });
  }

  /**
   * Queues a fault for the next call(s) of `api`. A fault of that API not yet met is dropped first: faults
   * model a moment of trouble, and ones queued on a rarely called API would otherwise pile up over simulated
   * weeks into an outage no WeChat has.
   */
  #fault(fault: Fault, times = 1, api: ApiName = this.random.pick(FAULTY_APIS)) {
    this.world.simulator.clearFaults(api);
    this.world.simulator.failNext(api, fault, times);
    this.ledger.fault(this.world.now(), api);
    this.ledger.note(this.world.now(), `fault ${api} ${JSON.stringify(fault)} ×${times}`);
  }

  /**
   * The merchant's admin confirms (a new authorization or a re-authorization); WeChat redirects the browser
   * with the code and pushes `authorized`/`updateauthorized` with the same code, each channel delivered or
   * lost as drawn.
   */
  /** The permission sets an admin grants: a re-authorization (or `updateauthorized`) may change them. */
  #permissionSets(again: boolean): number[] {
    return again
      ? this.random.pick([
          [1, 2, 3],
          [1, 2, 3, 17],
          [1, 15],
        ])
      : [1, 2, 3];
  }

  async #authorize(appId: string, channels: Channels, apiPermission: boolean): Promise<void> {
    const { simulator } = this.world;
    const now = this.world.now();
    const existing = this.ledger.merchants.get(appId);
    // An authorized merchant's permission change keeps its tokens half of the time (the other answer to
    // protocol §11.12): then nothing excuses a token dying early, so only a service that mints nothing for
    // it keeps its promises.
    const keepTokens =
      existing?.authorized === true && existing.apiPermission && this.random.chance(0.5);
    const code = simulator.authorize(appId, this.#permissionSets(existing !== undefined), {
      apiPermission,
      keepTokens,
    });
    // The exchange meets a -1 after WeChat consumed the code (protocol §11.10): often when the redirect
    // alone reaches us (no push names the authorizer: only the uncertainty of the -1 saves the code).
    if (this.random.chance(channels === 'redirect' ? 0.5 : 0.2)) {
      this.#fault('busy_after_processing', 1, 'api_query_auth');
      // A redirect alone names no authorizer: the outcome is recovered from the list, which then answers
      // malformed half of the time (a failure, not an empty list: protocol §11.7).
      if (channels === 'redirect' && this.random.chance(0.5)) {
        this.world.conductor.malformedListInSweep();
        this.ledger.fault(now, 'api_get_authorizer_list');
        this.ledger.note(now, `the recovery of ${appId}'s code meets a malformed list answer`);
      }
    }
    const merchant: Merchant = {
      appId,
      authorized: true,
      changedAt: now,
      settleBy: now + (channels === 'none' ? SETTLE.reconciled : SETTLE.delivered),
      apiPermission,
    };
    this.ledger.merchants.set(appId, merchant);
    this.ledger.event(appId, now);
    this.ledger.note(
      now,
      `${keepTokens ? 'change the permissions of' : existing ? 're-authorize' : 'authorize'} ${appId} via ${channels}${apiPermission ? '' : ' (no API permission)'}`
    );
    const redirect = async () => {
      if (channels !== 'both' && channels !== 'redirect') return;
      await fetch(
        `${this.world.service.url}/authorize/callback?auth_code=${encodeURIComponent(code)}&expires_in=600`
      );
    };
    const push = () =>
      simulator.pushEvent(
        existing ? 'updateauthorized' : 'authorized',
        {
          AuthorizerAppid: appId,
          AuthorizationCode: code,
          AuthorizationCodeExpiredTime: Math.floor(now / 1000) + 600,
          PreAuthCode: `preauthcode@@@${randomBytes(8).toString('hex')}`,
        },
        { authorizerAppId: appId, deliver: channels === 'both' || channels === 'push' }
      );
    if (this.random.chance(0.5)) {
      await redirect();
      await push();
    } else {
      await push();
      await redirect();
    }
  }

  /**
   * WeChat's list shifts while a merchant's refresh-token recovery pages it (protocol §11.11). WeChat
   * rotates the refresh token of X, the first merchant of the second page, and an operator renews X: 61023,
   * so the service reads the list. Before its second page, a merchant of the first page revokes (its push
   * lost) and a new one authorizes (neither channel reaches us): X moves onto the page already read and
   * `total_count` stays the same. Only a service that confirms an absence before a verdict keeps X.
   * X must be a merchant the service holds: one WeChat authorized through neither channel and that no
   * reconciliation has imported yet makes no renewal and no recovery, and a shift during the
   * reconciliation that would import it hides it from that pass without any sign a service could read.
   */
  async #shiftListing(): Promise<void> {
    const { simulator } = this.world;
    const listed = [...simulator.state.authorizers]
      .filter(([, a]) => a.active)
      .map(([appId]) => appId);
    const x = this.ledger.merchants.get(listed[LIST_PAGE_SIZE] ?? '');
    const firstPage = listed
      .slice(0, LIST_PAGE_SIZE)
      .flatMap((appId) => this.ledger.merchants.get(appId) ?? []);
    if (!x?.authorized || !x.apiPermission || firstPage.length === 0) return;
    const held = await this.world.store.getAuthorizer(this.world.componentAppId, x.appId);
    if (held?.status !== 'active') return;
    const y = this.random.pick(firstPage);
    const z = this.#newAppId();
    const now = this.world.now();
    simulator.rotateRefreshToken(x.appId);
    this.ledger.event(x.appId, now);
    simulator.beforeNextListPage(() => {
      const at = this.world.now();
      void simulator.revoke(y.appId, { push: false });
      y.authorized = false;
      y.changedAt = at;
      y.settleBy = at + SETTLE.silentRevocation;
      this.ledger.event(y.appId, at);
      simulator.authorize(z, this.#permissionSets(false), { apiPermission: true });
      this.ledger.merchants.set(z, {
        appId: z,
        authorized: true,
        changedAt: at,
        settleBy: at + SETTLE.reconciled,
        apiPermission: true,
      });
      this.ledger.event(z, at);
      this.ledger.note(
        at,
        `the list shifts between pages: ${y.appId} revokes (push lost), ${z} authorizes (neither channel)`
      );
    });
    this.ledger.note(now, `WeChat rotates ${x.appId}'s refresh token; an operator renews it`);
    await this.world.conductor.as('operator', () =>
      this.world.operatorRefresh(x.appId).catch(() => undefined)
    );
  }

  async #revoke(merchant: Merchant, push: boolean): Promise<void> {
    const now = this.world.now();
    await this.world.simulator.revoke(merchant.appId, { push });
    merchant.authorized = false;
    merchant.changedAt = now;
    merchant.settleBy = now + (push ? SETTLE.delivered : SETTLE.silentRevocation);
    this.ledger.note(now, `revoke ${merchant.appId}${push ? '' : ' (push lost)'}`);
    this.ledger.event(merchant.appId, now);
  }

  /** A push the service acknowledges without acting on it: nested fields, or an InfoType it does not know. */
  async #otherPush(): Promise<void> {
    if (this.random.chance(0.5)) {
      await this.world.simulator.pushEvent('notify_third_fasteregister', {
        appid: this.#newAppId(),
        status: 0,
        auth_code: `fastregister${randomBytes(6).toString('hex')}`,
        msg: 'OK',
        info: {
          name: '模拟企业有限公司',
          code: '91440300MA5XXXXXX1',
          code_type: 1,
          legal_persona_wechat: 'legal_wechat',
          legal_persona_name: '张三',
          component_phone: '10086',
        },
      });
    } else {
      await this.world.simulator.pushEvent(`notify_simulated_${this.random.int(100)}`, {
        Detail: { Reason: 'not handled by this service', Items: ['a', 'b'] },
      });
    }
  }

  /** A push that is not WeChat's: a random body and signature. It must be refused and change nothing. */
  async #forgedPush(): Promise<void> {
    const query = new URLSearchParams({
      timestamp: String(Math.floor(this.world.now() / 1000)),
      nonce: String(this.random.int(1e9)),
      encrypt_type: 'aes',
      msg_signature: randomBytes(20).toString('hex'),
    });
    const body = `<xml><AppId><![CDATA[${this.world.componentAppId}]]></AppId><Encrypt><![CDATA[${randomBytes(96).toString('base64')}]]></Encrypt></xml>`;
    const response = await fetch(`${this.world.service.url}/wechat/events?${query}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body,
    });
    await response.text();
    this.ledger.forgedPushes += 1;
    if (response.status < 400 || response.status >= 500) {
      throw new InvariantViolation(
        'nothing forged stored',
        `a forged push was answered ${response.status}`
      );
    }
  }
}
