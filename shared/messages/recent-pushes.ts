import type { EpochMs } from '../clock';

/**
 * WeChat delivers an unanswered push again 5 s later, three deliveries in all (protocol §11.9): a retry
 * reaches us within about 15 s of the first delivery. Kept a little longer for slow answers.
 */
export const RETRY_WINDOW_MS = 30_000;
/** Ids remembered per container: a few seconds of a busy account's traffic, a few MB at most. */
export const RECENT_PUSHES_KEPT = 50_000;

/**
 * The pushes this container published lately, by id, to drop a retry that lands on the same container
 * (the common case: WeChat retries one URL, a warm container takes it). A retry that lands elsewhere is
 * published again with the same `detail.id`: consumers deduplicate by it (docs/events.md, "Messages and events").
 * Memory, not a table write: in `npm run bench -- --only=message-intake` a conditional write per push made
 * the intake 2.3–2.6 times as costly, to drop a duplicate WeChat sends only when we answered late.
 */
export class RecentPushes {
  readonly #seen = new Map<string, EpochMs>();

  constructor(
    private readonly windowMs = RETRY_WINDOW_MS,
    private readonly kept = RECENT_PUSHES_KEPT
  ) {}

  /** Whether `id` was recorded within the window. */
  has(id: string, now: EpochMs): boolean {
    const at = this.#seen.get(id);
    return at !== undefined && now - at < this.windowMs;
  }

  /** Records `id` as published at `now`, forgetting the oldest beyond the window or the size cap. */
  add(id: string, now: EpochMs): void {
    this.#seen.delete(id);
    this.#seen.set(id, now);
    for (const [oldest, at] of this.#seen) {
      if (this.#seen.size <= this.kept && now - at < this.windowMs) break;
      this.#seen.delete(oldest);
    }
  }
}
