import { afterEach, describe, expect, it, vi } from 'vitest';

vi.mock('../../../../local/simulation/simulate', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../../local/simulation/simulate')>();
  return {
    ...actual,
    simulate: async ({ seed }: { seed: number }) => {
      throw new actual.SimulationFailure(
        seed,
        5155,
        Date.UTC(2026, 0, 22, 13, 35),
        'an invariant',
        'detail',
        ['the last trace line']
      );
    },
  };
});

const { main } = await import('../../../../local/simulation/cli');

describe('npm run simulate when no seed passed', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints each failure with its trace and replay, a summary without a cadence range, and exits 1', async () => {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
    vi.spyOn(console, 'error').mockImplementation((line: string) => void err.push(line));
    expect(await main(['--days', '1', '--seeds', '8-9', '--quiet'])).toBe(1);
    expect(err.filter((line) => line.startsWith('FAILED seed '))).toHaveLength(2);
    expect(err).toContain('  the last trace line');
    expect(err).toContain('replay: npm run simulate -- --days 1 --seed 9');
    expect(out).toEqual([
      '0 of 2 seeds × 1 days passed: 0 tokens served, 0 early deaths, 0 authorizers lost',
    ]);
  });
});
