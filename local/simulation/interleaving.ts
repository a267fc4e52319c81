import type { Fault } from '../simulator';
import type { Callers } from './callers';
import { type Actor, type ActorKind, Episode } from './conductor';
import { InvariantViolation, iso } from './invariants';
import type { Ledger } from './ledger';
import type { World } from './world';

/**
 * Interleaved steps: several actors for ONE merchant at once, as different Lambdas would be (architecture
 * §7, "flows overlap"). What happens at WeChat first (a re-authorization, a revocation, nothing) is the
 * scenario's; this runs the actors and counts which of them overlapped.
 *
 * - `lapse`: the step before, an operator's renewal of the merchant lost both answers (WeChat issued two
 *   tokens): the stored token is capped and due, and dies now. The sweep, an inline renewal (get-token, no
 *   promise left) and an honest report all want to renew it.
 * - `renew`: an operator's renewal of a token that is not due, and a caller asking for the token while that
 *   renewal holds the lease (its promise must end 5 minutes after the lease was taken), with others.
 * - `reauthorize`: the merchant authorized again (WeChat killed its tokens); the redirect and the
 *   `updateauthorized` push carry the code while callers report the dead token and renewals run.
 * - `authorize`: a new merchant, or one that revoked, authorizes: the redirect, the `authorized` push, the
 *   reconciliation (which may import it first) and renewals of what they stored.
 * - `revoke`: the merchant revoked; the `unauthorized` push arrives while renewals and reports run (half
 *   of the time prepared like a lapse, so that the schedule's renewal meets the revocation).
 * - `authorize-revoke`: the merchant authorizes and cancels a second later: the redirect, both pushes.
 */
export type EpisodeType =
  | 'lapse'
  | 'renew'
  | 'reauthorize'
  | 'authorize'
  | 'revoke'
  | 'authorize-revoke';

export interface EpisodePlan {
  type: EpisodeType;
  appId: string;
  actors: ActorKind[];
  /** Seeds the delays of the step's operations. */
  seed: number;
  /**
   * Prepared at the end of the step before (`Scenario.afterStep`): an operator's renewal lost both answers,
   * so the stored token is capped, due, and dead when the step runs.
   */
  primed: boolean;
  /** A fault WeChat meets on the check of the honest report (getApiQuota), if any. */
  checkFault?: Fault;
  /** Faults queued at WeChat when the actors start. */
  faults: { api: Parameters<World['simulator']['failNext']>[0]; fault: Fault; times: number }[];
}

/** What the scenario did at WeChat before the actors start. */
export interface EpisodeStart {
  now: number;
  /** The authorization code of an (re-)authorization, and the push that carries it. */
  code?: string;
  pushInfoType?: 'authorized' | 'updateauthorized';
  /** The push's CreateTime (the authorization's moment), seconds. */
  authorizedAt?: number;
}

/** Runs interleaved steps (see the module comment) and answers the conductor's renewal hook. */
export class Interleaver {
  /** The running `renew` step waits for an operator's renewal to call a caller in (see `onRenewalRequest`). */
  #leaseReader: { appId: string; now: number; started?: Promise<void> } | undefined;

  constructor(
    private readonly world: World,
    private readonly ledger: Ledger,
    private readonly callers: Callers
  ) {}

  /**
   * A renewal of `appId` is about to reach WeChat. During a `renew` step, the operator's renewal holds its
   * request until a caller asked for the token while the lease is held (the answer must carry a promise
   * that ends 5 minutes after the lease was claimed).
   */
  onRenewalRequest(actor: Actor | undefined, appId: string): Promise<void> | undefined {
    const reader = this.#leaseReader;
    if (!reader || reader.started || actor?.kind !== 'operator' || appId !== reader.appId) {
      return undefined;
    }
    reader.started = this.world.conductor.as('inline', () =>
      this.callers.inline(appId, reader.now)
    );
    return reader.started;
  }

  /** Runs the step's actors at once; returns the pairs of actor kinds that overlapped. */
  async run(plan: EpisodePlan, start: EpisodeStart): Promise<string[]> {
    const { world, ledger, callers } = this;
    const { appId } = plan;
    const { now, code } = start;
    const keys = new Set([`AUTHORIZER#${world.componentAppId}#${appId}`]);
    if (code) keys.add(`AUTHCODE#${world.componentAppId}#${code}`);
    const episode = new Episode(
      plan.seed,
      appId,
      keys,
      (token) => world.simulator.state.authorizers.get(appId)?.accessTokens.has(token) === true,
      code
    );
    for (const { api, fault, times } of plan.faults) {
      world.simulator.failNext(api, fault, times);
      ledger.fault(now, api);
    }
    const held = callers.heldToken(appId);
    const push = async (infoType: string, fields: Record<string, string | number>) => {
      const answer = await world.deliverPush(infoType, fields);
      if (answer.status !== 200 || answer.body !== 'success') {
        throw new InvariantViolation(
          'genuine push answered success',
          `${infoType} for ${appId} at ${iso(world.now())} got ${answer.status} ${JSON.stringify(answer.body.slice(0, 80))}`
        );
      }
    };
    const runs: Record<ActorKind, () => Promise<unknown>> = {
      sweep: () => world.refresh().catch(() => undefined),
      reconcile: () => world.refresh('reconcile').catch(() => undefined),
      operator: () => world.operatorRefresh(appId).catch(() => undefined),
      inline: () => callers.inline(appId, now),
      report: () => callers.honestReport(appId, now, plan.checkFault, held),
      'false-report': () => callers.falseReport(appId, now),
      callback: () => (code ? world.callback(code) : Promise.resolve()),
      push: () =>
        code
          ? push(start.pushInfoType ?? 'authorized', {
              AuthorizerAppid: appId,
              AuthorizationCode: code,
              AuthorizationCodeExpiredTime: (start.authorizedAt ?? Math.floor(now / 1000)) + 600,
              PreAuthCode: `preauthcode@@@simulation${plan.seed}`,
              ...(start.authorizedAt === undefined ? {} : { CreateTime: start.authorizedAt }),
            })
          : Promise.resolve(),
      revoke: () => push('unauthorized', { AuthorizerAppid: appId }),
    };
    this.#leaseReader = plan.type === 'renew' ? { appId, now } : undefined;
    try {
      const pairs = await world.conductor.interleave(
        episode,
        plan.actors.map((kind) => ({ kind, run: runs[kind] }))
      );
      await this.#leaseReader?.started;
      if (episode.mintedAlongside) {
        throw new InvariantViolation(
          'one writer mints a token at a time',
          `${appId} at ${iso(now)} (${plan.type}): ${episode.mintedAlongside}`
        );
      }
      ledger.interleaved(now, pairs);
      ledger.traceLine(
        `${new Date(now).toISOString().slice(5, 16).replace('T', ' ')} interleaved ${plan.type} ${appId}: ${plan.actors.join(', ')}; overlapped: ${pairs.join(', ') || 'none'}`
      );
      return pairs;
    } finally {
      this.#leaseReader = undefined;
      for (const { api } of plan.faults) world.simulator.clearFaults(api);
    }
  }
}
