import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CONTEXT_KEYS,
  parseStackConfig,
  readDeployContextFile,
  StackConfigError,
} from '../../../infra/config';
import { COMPONENT_APPID } from '../../support/test-ids';

const MINIMAL = { componentAppId: COMPONENT_APPID };

const problemsOf = (run: () => unknown): readonly string[] => {
  try {
    run();
  } catch (error) {
    if (error instanceof StackConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a StackConfigError');
};
const problemsOfContext = (context: Record<string, unknown>) =>
  problemsOf(() => parseStackConfig(context));

const CERTIFICATE =
  'arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ab-cdef-0123456789ab';

describe('parseStackConfig', () => {
  it('accepts the minimal context and defaults the rest', () => {
    expect(parseStackConfig(MINIMAL)).toEqual({
      componentAppId: COMPONENT_APPID,
      stage: 'prod',
      natGatewayPerAz: false,
      egress: 'nat-gateway',
      natInstanceType: undefined,
      egressEipAllocationIds: [],
      tokenTableName: undefined,
      componentSecretName: undefined,
      messageSecretName: undefined,
      authorizeDomain: undefined,
      authorizeDomainCertificateArn: undefined,
      hostedZoneId: undefined,
      hostedZoneName: undefined,
      disableExecuteApiEndpoint: false,
      alarmEmail: undefined,
      getTokenCallerAccountIds: [],
      callWechatPathPrefixes: [],
      platformDisplayName: undefined,
      getTokenReservedConcurrency: undefined,
      refreshReservedConcurrency: undefined,
      publicRouteConcurrencyCap: undefined,
      kmsKey: undefined,
      region: undefined,
      chinaRegion: false,
      lambdaRuntime: 'nodejs24.x',
    });
  });

  it('accepts every key, trimming values, splitting lists and lower-casing the domain', () => {
    expect(
      parseStackConfig({
        componentAppId: ` ${COMPONENT_APPID} `,
        stage: 'staging-2',
        natGatewayPerAz: 'true',
        egressEipAllocationIds: 'eipalloc-0abc1234, eipalloc-0def5678',
        tokenTableName: 'WeChatTokenService-prod-TokenTable-1ABC',
        componentSecretName: 'wechat/component',
        messageSecretName: 'wechat/message',
        authorizeDomain: 'Auth.Example.COM',
        authorizeDomainCertificateArn: CERTIFICATE,
        hostedZoneId: 'Z0123456789ABCDEFGHIJ',
        hostedZoneName: 'Example.com',
        disableExecuteApiEndpoint: 'true',
        alarmEmail: 'ops@example.com',
        getTokenCallerAccountIds: '111122223333,444455556666',
        callWechatPathPrefixes: ' /cgi-bin/, /wxa/ ',
        platformDisplayName: '示例第三方平台',
        getTokenReservedConcurrency: ' 50 ',
        refreshReservedConcurrency: '3',
        publicRouteConcurrencyCap: '10',
        kmsKey: ' arn:aws-cn:kms:cn-north-1:123456789012:key/0123abcd-4567-89ab-cdef-0123456789ab ',
        region: 'cn-north-1',
        lambdaRuntime: 'nodejs22.x',
      })
    ).toEqual({
      componentAppId: COMPONENT_APPID,
      stage: 'staging-2',
      natGatewayPerAz: true,
      egress: 'nat-gateway',
      natInstanceType: undefined,
      egressEipAllocationIds: ['eipalloc-0abc1234', 'eipalloc-0def5678'],
      tokenTableName: 'WeChatTokenService-prod-TokenTable-1ABC',
      componentSecretName: 'wechat/component',
      messageSecretName: 'wechat/message',
      authorizeDomain: 'auth.example.com',
      authorizeDomainCertificateArn: CERTIFICATE,
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      hostedZoneName: 'example.com',
      disableExecuteApiEndpoint: true,
      alarmEmail: 'ops@example.com',
      getTokenCallerAccountIds: ['111122223333', '444455556666'],
      callWechatPathPrefixes: ['/cgi-bin/', '/wxa/'],
      platformDisplayName: '示例第三方平台',
      getTokenReservedConcurrency: 50,
      refreshReservedConcurrency: 3,
      publicRouteConcurrencyCap: 10,
      kmsKey: 'arn:aws-cn:kms:cn-north-1:123456789012:key/0123abcd-4567-89ab-cdef-0123456789ab',
      region: 'cn-north-1',
      chinaRegion: true,
      lambdaRuntime: 'nodejs22.x',
    });
  });

  it('takes JSON types from the settings file: booleans and arrays', () => {
    expect(
      parseStackConfig({
        ...MINIMAL,
        natGatewayPerAz: true,
        egressEipAllocationIds: ['eipalloc-0abc1234', 'eipalloc-0def5678'],
        getTokenCallerAccountIds: ['111122223333'],
        getTokenReservedConcurrency: 20,
      })
    ).toMatchObject({
      natGatewayPerAz: true,
      egressEipAllocationIds: ['eipalloc-0abc1234', 'eipalloc-0def5678'],
      getTokenCallerAccountIds: ['111122223333'],
      getTokenReservedConcurrency: 20,
    });
  });

  it('treats empty values as unset', () => {
    expect(
      parseStackConfig({
        ...MINIMAL,
        alarmEmail: '',
        authorizeDomain: ' ',
        natGatewayPerAz: '',
        getTokenCallerAccountIds: '',
        publicRouteConcurrencyCap: ' ',
      })
    ).toMatchObject({
      alarmEmail: undefined,
      authorizeDomain: undefined,
      natGatewayPerAz: false,
      getTokenCallerAccountIds: [],
      publicRouteConcurrencyCap: undefined,
    });
  });

  it('names the missing componentAppId and both ways to set it', () => {
    expect(problemsOfContext({})).toEqual([
      expect.stringMatching(
        /componentAppId is required.*deploy\.context\.json.*-c componentAppId=/
      ),
    ]);
  });

  it('reports every invalid key at once, in one error', () => {
    const context = {
      componentAppId: 'gh_123',
      stage: 'Prod_1',
      natGatewayPerAz: 'yes',
      egress: 'nat',
      natInstanceType: 'nano',
      egressEipAllocationIds: 'eip-123',
      tokenTableName: 'a b',
      componentSecretName: 'has spaces',
      messageSecretName: 'has spaces',
      authorizeDomain: 'https://auth.example.com/authorize',
      authorizeDomainCertificateArn: 'arn:aws:iam::123456789012:server-certificate/x',
      hostedZoneId: 'example.com',
      hostedZoneName: 'https://example.com',
      disableExecuteApiEndpoint: 'maybe',
      alarmEmail: 'ops.example.com',
      getTokenCallerAccountIds: '1234',
      callWechatPathPrefixes: 'https://evil.example/',
      platformDisplayName: '<script>',
      getTokenReservedConcurrency: 'many',
      refreshReservedConcurrency: '1',
      publicRouteConcurrencyCap: '0',
      kmsKey: 'alias/mine',
      region: 'Beijing',
      lambdaRuntime: 'nodejs18.x',
    };
    expect(problemsOfContext(context).map((p) => p.split(' ')[0])).toEqual([...CONTEXT_KEYS]);
    expect(() => parseStackConfig(context)).toThrow(/Invalid CDK context \(24 problems\)/);
  });

  it('creates the custom domain only with its certificate, and says which keys go together', () => {
    const domain = { ...MINIMAL, authorizeDomain: 'auth.example.com' };
    expect(problemsOfContext({ ...MINIMAL, authorizeDomainCertificateArn: CERTIFICATE })).toEqual([
      'authorizeDomainCertificateArn needs authorizeDomain: the certificate is for that host',
    ]);
    expect(problemsOfContext({ ...domain, hostedZoneId: 'Z0123456789ABCDEFGHIJ' })).toEqual([
      'hostedZoneId and hostedZoneName go together: set both, or neither',
      'hostedZoneId needs authorizeDomainCertificateArn: the record points at the custom domain',
    ]);
    expect(
      problemsOfContext({
        ...domain,
        authorizeDomainCertificateArn: CERTIFICATE,
        hostedZoneId: 'Z0123456789ABCDEFGHIJ',
        hostedZoneName: 'example.org',
      })
    ).toEqual(['hostedZoneName: auth.example.com is not in the zone example.org']);
    expect(problemsOfContext({ ...domain, disableExecuteApiEndpoint: true })).toEqual([
      'disableExecuteApiEndpoint needs authorizeDomainCertificateArn: without the custom domain the API would be unreachable',
    ]);
    // A certificate of the China partition is one too.
    const chinaCertificate = CERTIFICATE.replace('arn:aws:', 'arn:aws-cn:').replace(
      'us-east-1',
      'cn-north-1'
    );
    expect(
      parseStackConfig({ ...domain, authorizeDomainCertificateArn: chinaCertificate })
        .authorizeDomainCertificateArn
    ).toBe(chinaCertificate);
  });

  it('rejects non-string values', () => {
    expect(problemsOfContext({ ...MINIMAL, stage: 7 })).toEqual([
      'stage must be a string, got number',
    ]);
    expect(problemsOfContext({ ...MINIMAL, getTokenCallerAccountIds: [111122223333] })).toEqual([
      expect.stringMatching(/^getTokenCallerAccountIds must be .*111122223333/),
    ]);
  });

  it('takes reserved concurrency as a whole number, and says why 0, or 1 for refresh, is refused', () => {
    expect(problemsOfContext({ ...MINIMAL, getTokenReservedConcurrency: '0' })).toEqual([
      'getTokenReservedConcurrency must be 1 or more, got 0: leave it unset for no reservation ' +
        '(0 would refuse every invocation)',
    ]);
    expect(problemsOfContext({ ...MINIMAL, refreshReservedConcurrency: 1 })).toEqual([
      expect.stringMatching(
        /^refreshReservedConcurrency must be 2 or more, got 1: scheduled runs overlap/
      ),
    ]);
    for (const bad of ['2.5', '1e2', 'ten', 2.5, true, [5], '-3']) {
      const problems = problemsOfContext({ ...MINIMAL, publicRouteConcurrencyCap: bad });
      expect(problems, JSON.stringify(bad)).toEqual([
        expect.stringMatching(/^publicRouteConcurrencyCap must be (a whole number|1 or more)/),
      ]);
    }
    expect(problemsOfContext({ ...MINIMAL, publicRouteConcurrencyCap: '-3' })).toEqual([
      expect.stringMatching(/must be 1 or more, got -3/),
    ]);
    expect(
      parseStackConfig({
        ...MINIMAL,
        refreshReservedConcurrency: 2,
        getTokenReservedConcurrency: '7',
      })
    ).toMatchObject({ refreshReservedConcurrency: 2, getTokenReservedConcurrency: 7 });
  });

  it('rejects appids outside 14-30 characters after "wx"', () => {
    expect(problemsOfContext({ componentAppId: 'wx123' })).toHaveLength(1);
    expect(problemsOfContext({ componentAppId: `wx${'a'.repeat(31)}` })).toHaveLength(1);
  });

  it('wants one Elastic IP per NAT gateway: one, or one per zone with natGatewayPerAz', () => {
    const two = 'eipalloc-0abc1234,eipalloc-0def5678';
    expect(problemsOfContext({ ...MINIMAL, egressEipAllocationIds: two })).toEqual([
      expect.stringMatching(/egressEipAllocationIds must list 1 allocation id .* got 2/),
    ]);
    expect(
      problemsOfContext({
        ...MINIMAL,
        natGatewayPerAz: 'true',
        egressEipAllocationIds: 'eipalloc-0abc1234',
      })
    ).toEqual([
      expect.stringMatching(/must list 2 allocation ids .*natGatewayPerAz is true.* got 1/),
    ]);
    expect(
      problemsOfContext({
        ...MINIMAL,
        egressEipAllocationIds: 'eipalloc-0abc1234,eipalloc-0abc1234',
      })
    ).toEqual([expect.stringMatching(/lists "eipalloc-0abc1234" twice/)]);
  });

  it('refuses an unknown key by name, with the key it most likely meant', () => {
    const problems = problemsOfContext({
      ...MINIMAL,
      alarmemail: 'ops@example.com',
      egressEipAllocationId: 'eipalloc-0abc1234',
      alarm_email: 'ops@example.com',
      getTokenCallers: '111122223333',
      unrelated: 'x',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^unknown context key "alarmemail" \(did you mean alarmEmail\?\)/),
      expect.stringMatching(
        /^unknown context key "egressEipAllocationId" \(did you mean egressEipAllocationIds\?\)/
      ),
      expect.stringMatching(/^unknown context key "alarm_email" \(did you mean alarmEmail\?\)/),
      expect.stringMatching(
        /^unknown context key "getTokenCallers"; this app reads componentAppId/
      ),
      expect.stringMatching(
        /^unknown context key "unrelated"; this app reads componentAppId, stage/
      ),
    ]);
  });

  it("leaves CDK's own keys alone: feature flags, aws:cdk:*, lookups, acknowledgements", () => {
    expect(
      parseStackConfig({
        ...MINIMAL,
        '@aws-cdk/core:newStyleStackSynthesis': true,
        'aws:cdk:bundling-stacks': [],
        'availability-zones:account=123456789012:region=ap-east-1': ['ap-east-1a'],
        'acknowledged-issue-numbers': [12345],
        'cli-telemetry': false,
      }).componentAppId
    ).toBe(COMPONENT_APPID);
  });
});

describe('readDeployContextFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'deploy-context-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads the flat JSON object of context keys', () => {
    expect(
      readDeployContextFile(file('ok.json', `{"componentAppId":"${COMPONENT_APPID}"}`))
    ).toEqual(MINIMAL);
  });

  it('treats a missing file as an empty context', () => {
    expect(readDeployContextFile(join(dir, 'absent.json'))).toEqual({});
  });

  it('names the file when it is not a JSON object', () => {
    const broken = file('broken.json', '{"componentAppId":');
    expect(problemsOf(() => readDeployContextFile(broken))).toEqual([
      expect.stringMatching(/broken\.json is not valid JSON/),
    ]);
    const array = file('array.json', '[]');
    expect(problemsOf(() => readDeployContextFile(array))).toEqual([
      expect.stringMatching(/array\.json must hold one JSON object/),
    ]);
  });
});

describe('parseStackConfig: China regions, keys and egress', () => {
  it('needs a runtime named in a China region, and knows only the two China regions', () => {
    expect(problemsOfContext({ ...MINIMAL, region: 'cn-northwest-1' })).toEqual([
      expect.stringMatching(
        /^lambdaRuntime is required in cn-northwest-1: .*nodejs24\.x, nodejs22\.x.*docs\.amazonaws\.cn/
      ),
    ]);
    expect(problemsOfContext({ ...MINIMAL, region: 'cn-south-1' })).toEqual([
      'region cn-south-1 is not a China region this stack knows (cn-north-1, cn-northwest-1)',
    ]);
    expect(parseStackConfig({ ...MINIMAL, region: 'ap-east-1' })).toMatchObject({
      region: 'ap-east-1',
      chinaRegion: false,
      lambdaRuntime: 'nodejs24.x',
    });
  });

  it('takes "create" or a key ARN for kmsKey', () => {
    expect(parseStackConfig({ ...MINIMAL, kmsKey: 'create' }).kmsKey).toBe('create');
    expect(
      problemsOfContext({ ...MINIMAL, kmsKey: 'arn:aws:kms:us-east-1:123456789012:alias/x' })
    ).toEqual([expect.stringMatching(/^kmsKey must be "create" or a KMS key ARN/)]);
  });

  it('runs one NAT instance: no NAT per zone with it, and its type only with it', () => {
    expect(
      parseStackConfig({ ...MINIMAL, egress: 'nat-instance', natInstanceType: 't4g.micro' })
    ).toMatchObject({ egress: 'nat-instance', natInstanceType: 't4g.micro' });
    expect(
      problemsOfContext({ ...MINIMAL, egress: 'nat-instance', natGatewayPerAz: 'true' })
    ).toEqual(['natGatewayPerAz applies to NAT gateways: egress nat-instance runs one instance']);
    expect(problemsOfContext({ ...MINIMAL, natInstanceType: 't4g.micro' })).toEqual([
      'natInstanceType needs egress nat-instance',
    ]);
  });
});
