import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { REQUIRED_ENV } from '../../../shared/config';
import {
  defaultRouteTargets,
  FUNCTION_IDS,
  functionProps,
  type NagViolation,
  roleStatements,
  synthStack,
} from './synth-stack';

const EIP_ALLOCATION = 'eipalloc-0123456789abcdef0';

let template: Template;
let violations: NagViolation[];
let stackName: string;

beforeAll(() => {
  ({ template, violations, stackName } = synthStack({
    componentAppId: 'wx1234567890abcdef',
    stage: 'staging',
    egressEipAllocationId: EIP_ALLOCATION,
    componentSecretName: 'wechat/component',
    authorizeDomain: 'Auth.Example.com',
    alarmEmail: 'ops@example.com',
  }));
});

describe('TokenServiceStack with every optional context key', () => {
  it('names the stack after the stage', () => {
    expect(stackName).toBe('WeChatTokenService-staging');
  });

  it('still passes every REQUIRED_ENV variable to each function', () => {
    for (const id of FUNCTION_IDS) {
      const variables = functionProps(template, id).Environment.Variables;
      for (const name of REQUIRED_ENV) expect(variables, `${id} ${name}`).toHaveProperty(name);
      expect(variables.COMPONENT_APPID).toBe('wx1234567890abcdef');
    }
  });

  it('routes every function through the NAT gateway on the imported allocation id', () => {
    template.resourceCountIs('AWS::EC2::EIP', 0);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    for (const id of FUNCTION_IDS) {
      const targets = defaultRouteTargets(template, id);
      expect(targets.length, id).toBeGreaterThanOrEqual(1);
      for (const target of targets) {
        expect(target, id).toEqual({ nat: expect.any(String), allocationId: EIP_ALLOCATION });
      }
    }
  });

  it('outputs the imported allocation id instead of an IP', () => {
    template.hasOutput('EgressEipAllocationId', { Value: EIP_ALLOCATION });
    expect(template.toJSON().Outputs).not.toHaveProperty('EgressIp');
  });

  it('reads the imported secret by name and may read only that secret', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    for (const id of FUNCTION_IDS) {
      expect(functionProps(template, id).Environment.Variables.COMPONENT_SECRET_ID).toBe(
        'wechat/component'
      );
      const secretStatements = roleStatements(template, id).filter((s) =>
        JSON.stringify(s.Action).includes('secretsmanager:')
      );
      expect(secretStatements).toHaveLength(1);
      expect(JSON.stringify(secretStatements[0]!.Resource)).toMatch(
        /:secret:wechat\/component-\?{6}"/
      );
    }
  });

  it('gives only the two authorization functions the redirect URI on the domain', () => {
    const redirect = 'https://auth.example.com/authorize/callback';
    for (const id of FUNCTION_IDS) {
      const value = functionProps(template, id).Environment.Variables.AUTHORIZE_REDIRECT_URI;
      const expected = id === 'AuthorizePage' || id === 'AuthorizeCallback' ? redirect : undefined;
      expect(value, id).toBe(expected);
    }
  });

  it('outputs the URLs on the authorization domain', () => {
    template.hasOutput('EventUrl', { Value: 'https://auth.example.com/wechat/events' });
    template.hasOutput('AuthorizePageUrl', { Value: 'https://auth.example.com/authorize' });
    template.hasOutput('AuthorizeCallbackUrl', {
      Value: 'https://auth.example.com/authorize/callback',
    });
    template.hasOutput('AuthorizeDomain', { Value: 'auth.example.com' });
  });

  it('mails every alarm and its recovery to the alarm address', () => {
    const topicId = Object.keys(template.findResources('AWS::SNS::Topic'))[0]!;
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: topicId },
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(7);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }]);
    }
  });

  it('passes the cdk-nag AWS Solutions checks with every remaining finding acknowledged', () => {
    expect(violations).toEqual([]);
  });
});
