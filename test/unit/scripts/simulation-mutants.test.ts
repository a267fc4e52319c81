import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MUTANTS } from '../../../scripts/mutants';

const root = new URL('../../../', import.meta.url);

describe('the simulation mutants', () => {
  it('have unique names', () => {
    const names = MUTANTS.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(MUTANTS.map((m) => [m.name, m] as const))(
    '"%s" still finds the code it reverts',
    (_, m) => {
      for (const edit of m.edits) {
        const text = readFileSync(new URL(edit.file, root), 'utf8');
        expect(text.split(edit.find).length - 1, `${edit.file}: ${edit.find}`).toBe(1);
        expect(edit.replace).not.toBe(edit.find);
      }
      const expected = m.expect;
      if ('test' in expected) {
        expect(() => readFileSync(new URL(expected.test, root))).not.toThrow();
      }
    }
  );
});
