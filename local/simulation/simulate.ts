import type { Log, LogFields } from '../../shared/log';
import { CALLER_MARGIN_MS, Callers } from './callers';
import {
  checkAuthorizers,
  checkDailyCalls,
  checkPromises,
  checkPushes,
  checkTicket,
  InvariantViolation,
  iso,
} from './invariants';
import { Ledger } from './ledger';
import { seededRandom } from './random';
import { Scenario, STEPS_PER_DAY } from './scenario';
import { SIMULATION_START, startWorld, type WorldOptions } from './world';

export interface SimulationOptions {
  seed: number;
  days: number;
  /** Merchants authorized at the start. @default 4 */
  merchants?: number;
  /** Called once per simulated day with a progress line. */
  progress?: (line: string) => void;
  /** See `WorldOptions.wrapGetToken` (the simulation's own tests only). */
  wrapGetToken?: WorldOptions['wrapGetToken'];
}

export interface SimulationReport {
  /** The scenario's events, in order (what a replay of the seed repeats). */
  events: readonly string[];
  seed: number;
  days: number;
  steps: number;
  merchants: number;
  tokensServed: number;
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

/** The service's warnings and errors, into the trace (info lines would drown it). */
function traceLog(ledger: Ledger): Log {
  const at = (level: string) => (message: string, fields?: LogFields) =>
    ledger.traceLine(
      `${new Date(ledger.now()).toISOString().slice(5, 16).replace('T', ' ')} service ${level}: ${message} ${JSON.stringify(fields ?? {})}`
    );
  return { debug: () => undefined, info: () => undefined, warn: at('warn'), error: at('error') };
}

const STEP_MS = 5 * 60_000;
/** The reconciliation's schedule (`RECONCILE_INTERVAL_HOURS`), in steps. */
const RECONCILE_EVERY = 72;
/** Authorizer states are read from the table every half hour (a read per merchant). */
const AUTHORIZER_CHECK_EVERY = 6;

/**
 * Runs the service for `days` simulated days in 5-minute steps (the schedule's period) against the strict
 * WeChat simulator, with seeded merchant events and faults (`Scenario`), callers that use every token until
 * the `expiresAt` they were given (`Callers`), and the invariants checked at every step. Deterministic for a
 * seed: the same seed replays the same events at the same simulated times.
 *
 * @throws SimulationFailure naming the seed, the step and the invariant that broke.
 */
export async function simulate(options: SimulationOptions): Promise<SimulationReport> {
  const { seed, days } = options;
  const ledger = new Ledger(SIMULATION_START);
  const world = await startWorld({ log: traceLog(ledger), wrapGetToken: options.wrapGetToken });
  ledger.now = world.now;
  const random = seededRandom(seed);
  const scenario = new Scenario(world, ledger, random);
  const callers = new Callers(world, ledger);
  const steps = days * STEPS_PER_DAY;
  let step = 0;
  let pushesChecked = 0;
  let tokenDays = 0;
  try {
    await world.simulator.pushTicket();
    await scenario.begin(options.merchants ?? 4);
    for (step = 1; step <= steps; step++) {
      await world.advance(STEP_MS);
      const now = world.now();
      await scenario.step(now);
      await world.refresh().catch(() => undefined);
      if (step % RECONCILE_EVERY === 0) await world.refresh('reconcile').catch(() => undefined);
      await callers.act(now, scenario.misbehaving);
      checkPromises(world, ledger, now);
      pushesChecked = checkPushes(world, pushesChecked);
      await checkTicket(world);
      if (step % AUTHORIZER_CHECK_EVERY === 0) await checkAuthorizers(world, ledger, now);
      if (step % STEPS_PER_DAY === 0) {
        const day = step / STEPS_PER_DAY - 1;
        checkDailyCalls(world, ledger, day);
        tokenDays += [...ledger.merchants.values()].filter(
          (m) => m.authorized && m.apiPermission
        ).length;
        options.progress?.(
          `seed ${seed} day ${day + 1}/${days}: ${ledger.merchants.size} merchants, ${ledger.tokensServed} tokens served`
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
  };
}

const round = (n: number) => Math.round(n * 100) / 100;
