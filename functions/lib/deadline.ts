import type { Context } from 'aws-lambda';
import { ANSWER_RESERVE_MS } from '../../shared/policy';
import { withDeadline } from '../../shared/token-context';
import type { Deps } from './deps';

/** What a handler reads of its invocation: how long it has left. */
export type InvocationContext = Pick<Context, 'getRemainingTimeInMillis'> | undefined;

/** When no Lambda context is given (tests calling a handler directly): Lambda's default 3 s timeout. */
const DEFAULT_REMAINING_MS = 3_000;

/**
 * How long this invocation may work: what Lambda says is left (`getRemainingTimeInMillis`), cut to
 * `capMs` when the caller waits less (WeChat gives a push 5 s), less the time kept to answer.
 */
export function workBudget(context: InvocationContext, capMs = Number.POSITIVE_INFINITY): number {
  const remaining = context?.getRemainingTimeInMillis?.() ?? DEFAULT_REMAINING_MS;
  return Math.max(0, Math.min(remaining, capMs) - ANSWER_RESERVE_MS);
}

/** The services' context for one invocation: every WeChat call and lease wait ends within `budgetMs`. */
export function forInvocation(deps: Deps, budgetMs: number): Deps {
  return withDeadline(deps, budgetMs, 0);
}

/**
 * `work`'s answer, or `onTimeout()`'s when `work` has not finished within `budgetMs` (architecture §7:
 * an answer always comes in time). The abandoned work is left to finish or fail on its own; its lease
 * expires by itself.
 */
export async function answerWithin<T>(
  budgetMs: number,
  work: Promise<T>,
  onTimeout: () => Promise<T>
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), budgetMs);
  });
  try {
    const first = await Promise.race([work.then((value) => ({ value })), late]);
    if (first !== 'late') return first.value;
    work.catch(() => undefined);
    return await onTimeout();
  } finally {
    clearTimeout(timer);
  }
}
