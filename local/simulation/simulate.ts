import type { Log, LogFields } from '../../shared/log';
import { CALLER_MARGIN_MS, Callers } from './callers';
import { ACTOR_KINDS, type ActorKind, pairKey } from './conductor';
import { Interleaver } from './interleaving';
import {
  checkAuthorizers,
  checkDailyCalls,
  checkEvents,
  checkPromises,
  checkPushes,
  checkSuccession,
  checkTicket,
  InvariantViolation,
  iso,
} from './invariants';
import { Ledger } from './ledger';
import { seededRandom } from './random';
import { Scenario, STEPS_PER_DAY } from './scenario';
import { SIMULATION_START, startWorld, type World, type WorldOptions } from './world';

export interface SimulationOptions {
  seed: number;
  days: number;
  /** Merchants authorized at the start. @default 4 */
  merchants?: number;
  /** Called once per simulated day with a progress line. */
  progress?: (line: string) => void;
  /** See `WorldOptions.wrapGetToken` (the simulation's own tests only). */
  wrapGetToken?: WorldOptions['wrapGetToken'];
  /** See `WorldOptions.wrapStore` (the simulation's own tests only). */
  wrapStore?: WorldOptions['wrapStore'];
  /** Interleaved steps per simulated day, on average. @default 8 */
  interleavePerDay?: number;
  /** See `WorldOptions.clockSkewMs`. @default 0 */
  clockSkewMs?: number;
}

/** Interleaved steps of a run, and the pairs of actor kinds that overlapped in them. */
export interface InterleavingReport {
  /** Interleaved steps run. */
  steps: number;
  /** Per pair (`sweep+inline`, …): how many interleaved steps had those two actors overlap. */
  pairs: Record<string, number>;
  /** Per day: interleaved steps and overlapping pairs (same keys, `*` for the steps). */
  perDay: Record<string, number>[];
}

export interface SimulationReport {
  /** The scenario's events, in order (what a replay of the seed repeats). */
  events: readonly string[];
  seed: number;
  days: number;
  steps: number;
  merchants: number;
  tokensServed: number;
  /** Late answers discarded because the host starved the process of CPU (`STARVED_MS`). */
  starvedAnswers: number;
  /** Tokens WeChat rejected before the `expiresAt` they were handed out with (always 0 in a report). */
  earlyDeaths: 0;
  /** Authorizers WeChat lists that the service lost or marked needs_reauthorization (always 0). */
  authorizersLost: 0;
  /** `api_authorizer_token` calls per authorizer per day, and `api_component_token` calls per day. */
  authorizerCallsPerTokenDay: number;
  componentCallsPerDay: number;
  faultsInjected: number;
  pushesAnswered: number;
  forgedPushesRefused: number;
  interleavings: InterleavingReport;
}

/** A broken invariant, with what it takes to replay it. */
export class SimulationFailure extends Error {
  override readonly name = 'SimulationFailure';
  constructor(
    readonly seed: number,
    readonly step: number,
    readonly at: number,
    readonly invariant: string,
    detail: string,
    /** The last events and service log lines before the failure. */
    readonly trace: readonly string[],
    options?: ErrorOptions
  ) {
    super(
      `seed ${seed} broke "${invariant}" at step ${step} (day ${Math.floor(step / STEPS_PER_DAY)}, ${iso(at)}): ${detail}`,
      options
    );
  }
}

/**
 * The service's log as the simulation reads it: warnings and errors into the trace (info lines would drown
 * it), and every info line to `onInfo`.
 */
function traceLog(ledger: Ledger, onInfo: (message: string, fields?: LogFields) => void): Log {
  const at = (level: string) => (message: string, fields?: LogFields) =>
    ledger.traceLine(
      `${new Date(ledger.now()).toISOString().slice(5, 16).replace('T', ' ')} service ${level}: ${message} ${JSON.stringify(fields ?? {})}`
    );
  return { debug: () => undefined, info: onInfo, warn: at('warn'), error: at('error') };
}

/** The line `serve-token.ts` writes once it has checked a reported token (its verdict, and whether it renews). */
const REPORT_CHECKED = 'checked a token a caller reported as rejected';

const STEP_MS = 5 * 60_000;
/** The reconciliation's schedule (`RECONCILE_INTERVAL_HOURS`), in steps. */
const RECONCILE_EVERY = 72;
/** Authorizer states are read from the table every half hour (a read per merchant). */
const AUTHORIZER_CHECK_EVERY = 6;

/**
 * Runs the service for `days` simulated days in 5-minute steps (the schedule's period) against the strict
 * WeChat simulator, with seeded merchant events and faults (`Scenario`), callers that use every token until
 * the `expiresAt` they were given (`Callers`), and the invariants checked at every step. A few times a day
 * a step runs several actors for one merchant at once (`interleaving.ts`), their WeChat calls and store
 * writes held for seeded delays (`conductor.ts`). Deterministic for a seed: the same seed replays the same
 * events at the same simulated times (how the actors of an interleaved step meet depends on real time too:
 * usually the same order, see `conductor.ts`).
 *
 * @throws SimulationFailure naming the seed, the step and the invariant that broke.
 */
export async function simulate(options: SimulationOptions): Promise<SimulationReport> {
  const { seed, days } = options;
  const ledger = new Ledger(SIMULATION_START);
  let interleaver: Interleaver | undefined;
  let worldNow = () => SIMULATION_START;
  let currentActor: () => { kind: string } | undefined = () => undefined;
  // A false report forces a renewal when the service could not check the token: WeChat left the check
  // unanswered (seen on the network, `onCheckAnswered`), or the service's own time ran out before or while
  // it asked (seen only in its verdict: a host that starves the process of CPU makes real-time deadlines
  // pass that the simulated clock does not).
  const onInfo = (message: string, fields?: LogFields) => {
    if (message !== REPORT_CHECKED || fields?.verdict !== 'unknown' || fields.renewed !== true)
      return;
    if (currentActor()?.kind !== 'false-report') return;
    // The line's context names the token: `token: 'component'`, or an authorizer's appid alone (a
    // ticket's line has both, and a ticket is not what the promise invariant judges).
    if (fields.token === 'component') ledger.forcedRenewal('component', worldNow());
    else if (fields.token === undefined && typeof fields.authorizerAppId === 'string') {
      ledger.forcedRenewal(fields.authorizerAppId, worldNow());
    }
  };
  const world: World = await startWorld({
    log: traceLog(ledger, onInfo),
    wrapGetToken: options.wrapGetToken,
    wrapStore: options.wrapStore,
    clockSkewMs: options.clockSkewMs,
    hooks: {
      // An operator's renewal (from its lease claim on), or one a false report may force once WeChat left
      // its check unanswered: tokens callers already held then die 5 minutes after the successor is issued
      // (docs/callers.md, "What `expiresAt` promises"). Tokens handed out after it began must not count on more.
      onFirstRecordWrite: (actor, pk) => {
        if (actor.kind === 'operator') ledger.forcedRenewal(appIdOf(pk), worldNow());
      },
      onCheckAnswered: (actor, token, inconclusive) => {
        if (actor.kind !== 'false-report' || !inconclusive) return;
        const owner = ownerOf(world, token);
        if (owner) ledger.forcedRenewal(owner, worldNow());
      },
      onRenewalRequest: (actor, appId) => interleaver?.onRenewalRequest(actor, appId),
    },
  });
  worldNow = world.now;
  ledger.now = world.now;
  currentActor = () => world.conductor.current();
  const random = seededRandom(seed);
  const callers = new Callers(world, ledger);
  interleaver = new Interleaver(world, ledger, callers);
  const scenario = new Scenario(world, ledger, random, interleaver, {
    interleavePerDay: options.interleavePerDay,
  });
  const steps = days * STEPS_PER_DAY;
  let step = 0;
  let pushesChecked = 0;
  let tokenDays = 0;
  try {
    await world.simulator.pushTicket();
    await scenario.begin(options.merchants ?? 4);
    let issued = issuedCounts(world);
    for (step = 1; step <= steps; step++) {
      // An interleaved step may have moved the clocks a second: steps stay on the 5-minute grid.
      await world.advance(SIMULATION_START + step * STEP_MS - world.now());
      await scenario.step(world.now());
      const now = world.now();
      await world.conductor.as('sweep', () => world.refresh().catch(() => undefined));
      if (step % RECONCILE_EVERY === 0) {
        await world.conductor.as('reconcile', () =>
          world.refresh('reconcile').catch(() => undefined)
        );
      }
      await callers.act(now, scenario.misbehaving);
      await scenario.afterStep(now);
      // A get-token answers by its deadline and may leave a renewal running: the checks wait for it.
      await world.conductor.settle();
      checkPromises(world, ledger, now);
      pushesChecked = checkPushes(world, pushesChecked);
      await checkTicket(world);
      const every = step % AUTHORIZER_CHECK_EVERY === 0;
      const latest = issuedCounts(world);
      await checkSuccession(
        world,
        now,
        [...latest].filter(([appId, n]) => every || issued.get(appId) !== n).map(([appId]) => appId)
      );
      issued = latest;
      if (every) await checkAuthorizers(world, ledger, now);
      if (step % STEPS_PER_DAY === 0) {
        const day = step / STEPS_PER_DAY - 1;
        checkDailyCalls(world, ledger, day);
        checkEvents(world, now);
        tokenDays += [...ledger.merchants.values()].filter(
          (m) => m.authorized && m.apiPermission
        ).length;
        const today = ledger.interleavings.onDay(day);
        options.progress?.(
          `seed ${seed} day ${day + 1}/${days}: ${ledger.merchants.size} merchants, ${ledger.tokensServed} tokens served, ${today.get('*') ?? 0} interleaved steps (${today.size - (today.has('*') ? 1 : 0)} kinds of overlap)`
        );
      }
    }
    checkPromises(world, ledger, world.now() + CALLER_MARGIN_MS);
    return report(world, ledger, { seed, days, steps, tokenDays });
  } catch (error) {
    if (error instanceof InvariantViolation) {
      throw new SimulationFailure(
        seed,
        step,
        world.now(),
        error.invariant,
        error.detail,
        ledger.trace.slice(-60),
        { cause: error }
      );
    }
    throw new SimulationFailure(
      seed,
      step,
      world.now(),
      'no unexpected error',
      String(error),
      ledger.trace.slice(-60),
      { cause: error }
    );
  } finally {
    await world.close();
  }
}

function report(
  world: Awaited<ReturnType<typeof startWorld>>,
  ledger: Ledger,
  run: { seed: number; days: number; steps: number; tokenDays: number }
): SimulationReport {
  const { seed, days, steps } = run;
  const calls = world.simulator.calls;
  const count = (api: string) => calls.filter((c) => c.api === api).length;
  return {
    events: ledger.scenarioEvents,
    seed,
    days,
    steps,
    merchants: ledger.merchants.size,
    tokensServed: ledger.tokensServed,
    starvedAnswers: ledger.starvedAnswers,
    earlyDeaths: 0,
    authorizersLost: 0,
    authorizerCallsPerTokenDay: round(count('api_authorizer_token') / Math.max(1, run.tokenDays)),
    componentCallsPerDay: round(count('api_component_token') / days),
    faultsInjected: Array.from({ length: days + 1 }, (_, d) => ledger.faults.get(d, '*')).reduce(
      (a, b) => a + b,
      0
    ),
    pushesAnswered: world.simulator.pushes.filter((p) => !p.lost).length,
    forgedPushesRefused: ledger.forgedPushes,
    interleavings: interleavingReport(ledger, days),
  };
}

/** The authorizer appid of an `AUTHORIZER#<component>#<appid>` key. */
const appIdOf = (pk: string) => pk.slice(pk.lastIndexOf('#') + 1);

/** The authorizer WeChat issued `token` to, if any. */
function ownerOf(world: World, token: string): string | undefined {
  for (const [appId, a] of world.simulator.state.authorizers) {
    if (a.accessTokens.has(token)) return appId;
  }
  return undefined;
}

/** Tokens WeChat issued so far per authorizer (a changed count means a token to check). */
function issuedCounts(world: World): Map<string, number> {
  return new Map(
    [...world.simulator.state.authorizers].map(([appId, a]) => [appId, a.accessTokens.size])
  );
}

/** Every pair of two different actor kinds, `a+b` in `ACTOR_KINDS` order. */
export const ALL_PAIRS: readonly string[] = ACTOR_KINDS.flatMap((a, i) =>
  ACTOR_KINDS.slice(i + 1).map((b) => pairKey(a as ActorKind, b))
);

function interleavingReport(ledger: Ledger, days: number): InterleavingReport {
  const perDay = Array.from({ length: days }, (_, day) =>
    Object.fromEntries(ledger.interleavings.onDay(day))
  );
  const pairs: Record<string, number> = {};
  let steps = 0;
  for (const day of perDay) {
    for (const [key, n] of Object.entries(day)) {
      if (key === '*') steps += n;
      else pairs[key] = (pairs[key] ?? 0) + n;
    }
  }
  return { steps, pairs, perDay };
}

const round = (n: number) => Math.round(n * 100) / 100;
