import { describe, expect, it } from 'vitest';
import { main } from '../../../local/sandbox-cli';

describe('main', () => {
  it('main answers exit code 1 and the problems for a bad configuration', async () => {
    const err: string[] = [];
    const code = await main({ PORT: 'x' }, { out: () => {}, err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(err.join('\n')).toBe(
      'sandbox: invalid configuration:\n  - PORT must be an integer from 0 to 65535'
    );
  });
});
