import { describe, expect, it } from 'vitest';
import {
  checkAnswer,
  InvariantViolation,
  STARVED_MS,
} from '../../../../local/simulation/invariants';
import { GET_TOKEN_TIMEOUT_MS } from '../../../../local/simulation/world';
import { T0 } from '../../../support/test-ids';

const timedOut = { functionError: 'TimeoutError' };

describe('checkAnswer: the deadline is the service’s, a starved host is not', () => {
  it('fails a timeout or a late answer when the process ran', () => {
    expect(() => checkAnswer(timedOut, GET_TOKEN_TIMEOUT_MS, T0, STARVED_MS - 1)).toThrow(
      InvariantViolation
    );
    expect(() =>
      checkAnswer({ error: { code: 'upstream_unavailable' } }, GET_TOKEN_TIMEOUT_MS + 1, T0, 0)
    ).toThrow(/answer before the deadline/);
  });

  it('discards a late answer while the event loop stood still for half the answer reserve', () => {
    expect(checkAnswer(timedOut, GET_TOKEN_TIMEOUT_MS, T0, STARVED_MS)).toEqual({
      code: 'host_starved',
    });
  });

  it('still judges an answer in time, however the host behaved', () => {
    expect(() => checkAnswer({ functionError: 'TypeError' }, 10, T0, STARVED_MS * 4)).toThrow(
      /answer well-formed/
    );
  });
});
