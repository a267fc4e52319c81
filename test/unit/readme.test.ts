import { describe, expect, it } from 'vitest';
import { docSection, readDoc } from '../support/docs';

/** The `≈ $N` amounts of a table row whose first cell matches `label`, in order. */
function amounts(lines: string[], label: RegExp): string[] {
  const row = lines.find((line) => line.startsWith('|') && label.test(line.split('|')[1] ?? ''));
  if (!row) throw new Error(`no row ${label}`);
  return [...row.matchAll(/≈ \$(\d+)/g)].map((m) => m[1]!);
}

describe('the README', () => {
  it('stays short: the guides in docs/ hold the rest', () => {
    expect(readDoc('README.md').split('\n').length).toBeLessThanOrEqual(250);
  });

  it('quotes the monthly cost the deploy guide computes, line for line', () => {
    const readme = docSection('README.md', '## What it costs');
    const guide = docSection('docs/deploy.md', '## Monthly cost');
    expect(amounts(readme, /Default stack/)).toEqual(amounts(guide, /\*\*Total\*\*/));
    expect(amounts(readme, /natGatewayPerAz/)).toEqual(amounts(guide, /natGatewayPerAz/));
    expect(amounts(readme, /nat-instance/)).toEqual(amounts(guide, /nat-instance/));
    expect(amounts(readme, /Default stack/)).toHaveLength(2);
  });
});
