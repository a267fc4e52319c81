import { randomBytes } from 'node:crypto';
import type { ApiName } from '../../shared/wechat/wire';
import type { Fault } from '../simulator';
import { InvariantViolation } from './invariants';
import type { Ledger, Merchant } from './ledger';
import type { Random } from './random';
import type { World } from './world';

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
};

const FAULTY_APIS: readonly ApiName[] = [
  'api_component_token',
  'api_authorizer_token',
  'api_query_auth',
  'api_get_authorizer_list',
  'api_get_authorizer_info',
];

/** A caller that reports its valid token as invalid, over and over, for a while. */
export interface MisbehavingCaller {
  appId: string;
  until: number;
}

/**
 * The merchants' and WeChat's side of a simulated day, drawn from the seed: authorizations through every
 * combination of channels (redirect, push, both, neither), re-authorizations, revocations with and without
 * their push, refresh tokens rotated or listed empty, accounts without API permission, and faults on every
 * API (lost answers, 5xx, malformed answers, busy, quota, hangs), ticket pushes that stop, pushes the
 * service does not handle (nested ones too), forged pushes, and a caller that reports valid tokens as invalid.
 */
export class Scenario {
  #next = 1;
  readonly #deferred: { at: number; run: () => Promise<void> }[] = [];
  misbehaving: MisbehavingCaller | undefined;

  constructor(
    private readonly world: World,
    private readonly ledger: Ledger,
    private readonly random: Random
  ) {}

  /** The first merchants, authorized through both channels. */
  async begin(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.#authorize(this.#newAppId(), 'both', true);
  }

  async step(now: number): Promise<void> {
    for (const deferred of this.#deferred.filter((d) => d.at <= now)) {
      this.#deferred.splice(this.#deferred.indexOf(deferred), 1);
      await deferred.run();
    }
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
      // The recovery that follows (61023 → the list) meets a malformed list answer half of the time (twice,
      // in case the reconciliation reads the list first).
      if (this.random.chance(0.5)) this.#fault('malformed', 2, 'api_get_authorizer_list');
    }
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
      this.misbehaving = { appId: this.random.pick(active).appId, until: now + HOUR };
      this.ledger.event(this.misbehaving.appId, now);
      this.ledger.note(now, `a caller starts reporting ${this.misbehaving.appId}'s valid tokens`);
    }
    if (this.misbehaving && this.misbehaving.until <= now) this.misbehaving = undefined;
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
  async #authorize(appId: string, channels: Channels, apiPermission: boolean): Promise<void> {
    const { simulator } = this.world;
    const now = this.world.now();
    const existing = this.ledger.merchants.get(appId);
    const code = simulator.authorize(appId, [1, 2, 3], { apiPermission });
    if (existing) this.ledger.kill(appId, now);
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
      `${existing ? 're-authorize' : 'authorize'} ${appId} via ${channels}${apiPermission ? '' : ' (no API permission)'}`
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

  async #revoke(merchant: Merchant, push: boolean): Promise<void> {
    const now = this.world.now();
    await this.world.simulator.revoke(merchant.appId, { push });
    merchant.authorized = false;
    merchant.changedAt = now;
    merchant.settleBy = now + (push ? SETTLE.delivered : SETTLE.silentRevocation);
    this.ledger.note(now, `revoke ${merchant.appId}${push ? '' : ' (push lost)'}`);
    this.ledger.kill(merchant.appId, now);
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
