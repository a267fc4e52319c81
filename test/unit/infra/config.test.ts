import { describe, expect, it } from 'vitest';
import { parseStackConfig, StackConfigError } from '../../../infra/config';

const fromRecord = (context: Record<string, unknown>) => (key: string) => context[key];
const parse = (context: Record<string, unknown>) => parseStackConfig(fromRecord(context));
const problemsOf = (context: Record<string, unknown>): readonly string[] => {
  try {
    parse(context);
  } catch (error) {
    if (error instanceof StackConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a StackConfigError');
};

describe('parseStackConfig', () => {
  it('accepts the minimal context and defaults the stage to prod', () => {
    expect(parse({ componentAppId: 'wx0000000000000000' })).toEqual({
      componentAppId: 'wx0000000000000000',
      stage: 'prod',
      egressEipAllocationId: undefined,
      componentSecretName: undefined,
      authorizeDomain: undefined,
      alarmEmail: undefined,
    });
  });

  it('accepts every optional key, trimming values and lower-casing the domain', () => {
    expect(
      parse({
        componentAppId: ' wx1234567890abcdef ',
        stage: 'staging-2',
        egressEipAllocationId: 'eipalloc-0abc123',
        componentSecretName: 'wechat/component',
        authorizeDomain: 'Auth.Example.COM',
        alarmEmail: 'ops@example.com',
      })
    ).toEqual({
      componentAppId: 'wx1234567890abcdef',
      stage: 'staging-2',
      egressEipAllocationId: 'eipalloc-0abc123',
      componentSecretName: 'wechat/component',
      authorizeDomain: 'auth.example.com',
      alarmEmail: 'ops@example.com',
    });
  });

  it('treats empty optional values as unset', () => {
    expect(
      parse({ componentAppId: 'wx0000000000000000', alarmEmail: '', authorizeDomain: ' ' })
    ).toMatchObject({ alarmEmail: undefined, authorizeDomain: undefined });
  });

  it('names the missing componentAppId and how to pass it', () => {
    expect(problemsOf({})).toEqual([
      expect.stringMatching(/componentAppId is required.*-c componentAppId=/),
    ]);
  });

  it('reports every invalid key at once, in one error', () => {
    const context = {
      componentAppId: 'gh_123',
      stage: 'Prod_1',
      egressEipAllocationId: 'eip-123',
      componentSecretName: 'has spaces',
      authorizeDomain: 'https://auth.example.com/authorize',
      alarmEmail: 'ops.example.com',
    };
    const problems = problemsOf(context);
    expect(problems.map((p) => p.split(' ')[0])).toEqual([
      'componentAppId',
      'stage',
      'egressEipAllocationId',
      'componentSecretName',
      'authorizeDomain',
      'alarmEmail',
    ]);
    expect(() => parse(context)).toThrow(/Invalid CDK context \(6 problems\)/);
  });

  it('rejects non-string values from cdk.json', () => {
    expect(problemsOf({ componentAppId: 'wx0000000000000000', stage: 7 })).toEqual([
      'stage must be a string, got number',
    ]);
  });

  it('rejects appids outside 14-30 characters after "wx"', () => {
    expect(problemsOf({ componentAppId: 'wx123' })).toHaveLength(1);
    expect(problemsOf({ componentAppId: `wx${'a'.repeat(31)}` })).toHaveLength(1);
  });
});
