/**
 * An instant as milliseconds since 1970-01-01T00:00:00Z, as `Date.now()` and a {@link Clock} give it. The
 * name says which numbers are instants rather than durations. WeChat's own times (`CreateTime`,
 * `auth_time`) are seconds; they become `EpochMs` where they are read off the wire.
 */
export type EpochMs = number;

/** The time now. Injected everywhere so tests can move time. */
export type Clock = () => EpochMs;

export const systemClock: Clock = () => Date.now();
