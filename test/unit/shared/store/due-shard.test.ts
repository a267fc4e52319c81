import { describe, expect, it } from 'vitest';
import { DUE_INDEX_SHARDS } from '../../../../shared/policy';
import {
  authorizerDueKey,
  authorizerDuePartitions,
  dueShard,
  legacyAuthorizerDueKey,
} from '../../../../shared/store/table-schema';
import { COMPONENT_APPID as C, OTHER_COMPONENT_APPID } from '../../../support/test-ids';

/** Appids as WeChat issues them: `wx` and 16 hex digits; consecutive ones model accounts created together. */
const appId = (i: number) => `wx${i.toString(16).padStart(16, '0')}`;

function counts(ids: string[], shards = DUE_INDEX_SHARDS): number[] {
  const perShard = new Array<number>(shards).fill(0);
  for (const id of ids) perShard[dueShard(id, shards)] = (perShard[dueShard(id, shards)] ?? 0) + 1;
  return perShard;
}

describe('due index shards', () => {
  it('puts every authorizer in one of the listed partitions, the same one every time', () => {
    const partitions = authorizerDuePartitions(C);
    for (let i = 0; i < 1000; i++) {
      const key = authorizerDueKey(C, appId(i));
      expect(partitions).toContain(key);
      expect(key).not.toBe(legacyAuthorizerDueKey(C));
      expect(authorizerDueKey(C, appId(i))).toBe(key);
    }
    expect(partitions).toContain(legacyAuthorizerDueKey(C));
    expect(authorizerDuePartitions(OTHER_COMPONENT_APPID)).not.toContain(
      authorizerDueKey(C, appId(1))
    );
  });

  it('spreads 100 000 appids within 10 % of an even share on every shard', () => {
    const perShard = counts(Array.from({ length: 100_000 }, (_, i) => appId(i)));
    const even = 100_000 / DUE_INDEX_SHARDS;
    expect(Math.min(...perShard)).toBeGreaterThan(even * 0.9);
    expect(Math.max(...perShard)).toBeLessThan(even * 1.1);
  });

  it('spreads a cohort authorized together, consecutive appids or scattered ones, over every shard', () => {
    const consecutive = Array.from({ length: 1000 }, (_, i) => appId(0x5f3a_0000 + i));
    let x = 12345;
    const scattered = Array.from({ length: 1000 }, () => {
      x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
      return appId(x * 65_536 + (x >>> 16));
    });
    for (const ids of [consecutive, scattered]) {
      const perShard = counts(ids);
      expect(Math.min(...perShard)).toBeGreaterThan(0);
      expect(Math.max(...perShard)).toBeLessThan((2 * 1000) / DUE_INDEX_SHARDS);
    }
  });
});
