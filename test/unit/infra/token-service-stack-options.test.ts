import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { REQUIRED_ENV } from '../../../shared/config';
import { runbookSections } from '../../support/docs';
import { COMPONENT_APPID } from '../../support/test-ids';
import { alarmActionCounts, undeliverableAlarmActions } from './alarm-delivery';
import {
  defaultRouteTargets,
  FUNCTION_IDS,
  functionLogicalId,
  functionProps,
  type NagViolation,
  resource,
  roleStatements,
  synthStack,
} from './synth-stack';

const EIP_ALLOCATIONS = ['eipalloc-0123456789abcdef0', 'eipalloc-0fedcba9876543210'];
const CALLERS = ['111122223333', '444455556666'];
const TABLE = 'WeChatTokenService-prod-TokenTable-1ABCDEF';

const natGatewaysByAz = (template: Template) =>
  Object.entries(template.findResources('AWS::EC2::NatGateway')).map(([id, nat]) => {
    const subnet = resource(template, nat.Properties.SubnetId.Ref).Properties!;
    return { id, az: JSON.stringify(subnet.AvailabilityZone), eip: nat.Properties.AllocationId };
  });

/** For each function: the zone of each of its subnets and the zone of the NAT its default route uses. */
const routeZones = (template: Template) =>
  FUNCTION_IDS.flatMap((id) => {
    const nats = natGatewaysByAz(template);
    const subnets = functionProps(template, id).VpcConfig.SubnetIds.map((s) => s.Ref);
    return defaultRouteTargets(template, id).map((target, i) => ({
      subnetAz: JSON.stringify(resource(template, subnets[i]!).Properties!.AvailabilityZone),
      natAz: nats.find((n) => n.id === (target as { nat: string }).nat)?.az,
    }));
  });

describe('TokenServiceStack with every optional context key (imports, one NAT per zone, callers)', () => {
  let template: Template;
  let violations: NagViolation[];
  let stackName: string;

  beforeAll(() => {
    ({ template, violations, stackName } = synthStack({
      componentAppId: COMPONENT_APPID,
      stage: 'staging',
      natGatewayPerAz: 'true',
      egressEipAllocationIds: EIP_ALLOCATIONS.join(','),
      tokenTableName: TABLE,
      componentSecretName: 'wechat/component',
      messageSecretName: 'wechat/message',
      authorizeDomain: 'Auth.Example.com',
      alarmEmail: 'ops@example.com',
      getTokenCallerAccountIds: CALLERS.join(','),
      platformDisplayName: '示例平台',
      getTokenReservedConcurrency: '50',
      refreshReservedConcurrency: '3',
      publicRouteConcurrencyCap: '10',
    }));
  });

  it('reserves concurrency for get-token and refresh, caps each public route’s function, and leaves call-wechat unreserved', () => {
    const reserved = Object.fromEntries(
      FUNCTION_IDS.map((id) => [id, functionProps(template, id).ReservedConcurrentExecutions])
    );
    expect(reserved).toEqual({
      AuthEvent: 10,
      AuthorizePage: 10,
      AuthorizeCallback: 10,
      Refresh: 3,
      GetToken: 50,
      CallWeChat: undefined,
      WechatMessage: 10,
    });
    expect(functionProps(template, 'CallWeChat')).not.toHaveProperty(
      'ReservedConcurrentExecutions'
    );
  });

  it('names the stack after the stage', () => {
    expect(stackName).toBe('WeChatTokenService-staging');
  });

  it('still passes every REQUIRED_ENV variable to each function', () => {
    for (const id of FUNCTION_IDS) {
      const variables = functionProps(template, id).Environment.Variables;
      for (const name of REQUIRED_ENV) expect(variables, `${id} ${name}`).toHaveProperty(name);
      expect(variables.COMPONENT_APPID).toBe(COMPONENT_APPID);
    }
  });

  it('runs one NAT gateway per zone on the imported allocation ids, each zone routed to its own', () => {
    template.resourceCountIs('AWS::EC2::EIP', 0);
    const nats = natGatewaysByAz(template);
    expect(nats.map((n) => n.eip).sort()).toEqual([...EIP_ALLOCATIONS].sort());
    expect(new Set(nats.map((n) => n.az)).size).toBe(2);
    const zones = routeZones(template);
    expect(zones.length).toBeGreaterThanOrEqual(FUNCTION_IDS.length * 2);
    for (const { subnetAz, natAz } of zones) expect(natAz).toBe(subnetAz);
  });

  it('outputs the imported allocation ids, and no IPs it cannot know', () => {
    template.hasOutput('EgressEipAllocationIds', { Value: EIP_ALLOCATIONS.join(',') });
    expect(template.toJSON().Outputs).not.toHaveProperty('EgressIps');
    for (const id of FUNCTION_IDS) {
      expect(functionProps(template, id).Environment.Variables).not.toHaveProperty('EGRESS_IP');
    }
  });

  it('alarms on port allocation errors of each NAT gateway, with a runbook section each', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .map((a) => a.Properties)
      .filter((a) => a.MetricName === 'ErrorPortAllocation');
    const nats = natGatewaysByAz(template).map((n) => n.id);
    expect(alarms.map((a) => a.Dimensions[0].Value.Ref).sort()).toEqual(nats.sort());
    const runbook = runbookSections();
    for (const alarm of alarms) {
      expect(runbook).toContain((alarm.AlarmName as string).replace(`${stackName}-`, ''));
    }
  });

  it('uses the imported table: no table resource, its name everywhere, grants on its ARN and due index', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    for (const id of FUNCTION_IDS) {
      expect(functionProps(template, id).Environment.Variables.TOKEN_TABLE_NAME).toBe(TABLE);
    }
    const grants = JSON.stringify(roleStatements(template, 'Refresh'));
    expect(grants).toContain(`:table/${TABLE}"`);
    expect(grants).toContain(`:table/${TABLE}/index/due"`);
    template.hasOutput('TokenTableName', { Value: TABLE });
  });

  it('reads the imported secrets by name, the message secret in auth-event and wechat-message only', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    for (const id of FUNCTION_IDS) {
      const variables = functionProps(template, id).Environment.Variables;
      expect(variables.COMPONENT_SECRET_ID).toBe('wechat/component');
      const receivesPushes = id === 'AuthEvent' || id === 'WechatMessage';
      expect(variables.MESSAGE_SECRET_ID).toBe(receivesPushes ? 'wechat/message' : undefined);
      const secretResources = roleStatements(template, id)
        .filter((s) => JSON.stringify(s.Action).includes('secretsmanager:'))
        .map((s) => JSON.stringify(s.Resource));
      expect(
        secretResources.some((r) => /:secret:wechat\/component-\?{6}"/.test(r)),
        id
      ).toBe(true);
      expect(
        secretResources.some((r) => /:secret:wechat\/message-\?{6}"/.test(r)),
        id
      ).toBe(receivesPushes);
    }
  });

  it('gives only the two authorization pages the redirect URI and the display name', () => {
    const redirect = 'https://auth.example.com/authorize/callback';
    for (const id of FUNCTION_IDS) {
      const variables = functionProps(template, id).Environment.Variables;
      const page = id === 'AuthorizePage' || id === 'AuthorizeCallback';
      expect(variables.AUTHORIZE_REDIRECT_URI, id).toBe(page ? redirect : undefined);
      expect(variables.PLATFORM_DISPLAY_NAME, id).toBe(page ? '示例平台' : undefined);
    }
  });

  it('outputs the URLs on the authorization domain', () => {
    template.hasOutput('EventUrl', { Value: 'https://auth.example.com/wechat/events' });
    template.hasOutput('MessageUrl', {
      Value: 'https://auth.example.com/wechat/messages/$APPID$',
    });
    template.hasOutput('AuthorizePageUrl', { Value: 'https://auth.example.com/authorize' });
    template.hasOutput('AuthorizeCallbackUrl', {
      Value: 'https://auth.example.com/authorize/callback',
    });
    template.hasOutput('AuthorizeDomain', { Value: 'auth.example.com' });
  });

  it('lets each listed account invoke get-token and call-wechat, and nothing else, through a resource policy', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'))
      .map((p) => p.Properties)
      .filter((p) => p.Principal !== 'apigateway.amazonaws.com');
    expect(permissions).toEqual(
      (['GetToken', 'CallWeChat'] as const).flatMap((id) =>
        CALLERS.map((account) => ({
          Action: 'lambda:InvokeFunction',
          FunctionName: { 'Fn::GetAtt': [functionLogicalId(template, id), 'Arn'] },
          Principal: account,
        }))
      )
    );
  });

  it('mails every alarm and its recovery to the alarm address', () => {
    const topicId = Object.keys(template.findResources('AWS::SNS::Topic'))[0]!;
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: topicId },
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(FUNCTION_IDS.length * 2 + 16);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }]);
    }
  });

  it('lets CloudWatch deliver every action of every alarm, the second NAT’s included', () => {
    const json = template.toJSON();
    expect(Object.keys(alarmActionCounts(json))).toHaveLength(FUNCTION_IDS.length * 2 + 16);
    expect(undeliverableAlarmActions(json, stackName)).toEqual([]);
  });

  it('alarms on throttling of the imported table and its due index, by the table’s name', () => {
    const alarm = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .map((a) => a.Properties)
      .find((a) => JSON.stringify(a.Metrics ?? []).includes('WriteThrottleEvents'));
    const dimensions = (alarm.Metrics as { MetricStat?: { Metric: { Dimensions: unknown[] } } }[])
      .filter((m) => m.MetricStat)
      .map((m) => m.MetricStat!.Metric.Dimensions);
    expect(dimensions).toHaveLength(4);
    for (const d of dimensions) expect(d).toContainEqual({ Name: 'TableName', Value: TABLE });
  });

  it('passes the cdk-nag AWS Solutions and Serverless checks with every remaining finding acknowledged', () => {
    expect(violations).toEqual([]);
  });
});

describe('TokenServiceStack with one NAT gateway per zone on created Elastic IPs', () => {
  let template: Template;
  let violations: NagViolation[];

  beforeAll(() => {
    ({ template, violations } = synthStack({
      componentAppId: COMPONENT_APPID,
      natGatewayPerAz: 'true',
    }));
  });

  it('creates one kept Elastic IP per NAT gateway, keeping the first one the single-NAT stack had', () => {
    const eips = template.findResources('AWS::EC2::EIP');
    expect(Object.keys(eips)).toHaveLength(2);
    expect(Object.keys(eips).some((id) => /^EgressNatEip[0-9A-F]{8}$/.test(id))).toBe(true);
    for (const eip of Object.values(eips)) expect(eip.DeletionPolicy).toBe('RetainExceptOnCreate');
    const nats = natGatewaysByAz(template);
    expect(nats.map((n) => n.eip['Fn::GetAtt'][0]).sort()).toEqual(Object.keys(eips).sort());
    for (const { subnetAz, natAz } of routeZones(template)) expect(natAz).toBe(subnetAz);
  });

  it('lists both IPs for the whitelist and both allocation ids for a rebuild', () => {
    const ids = Object.keys(template.findResources('AWS::EC2::EIP')).sort();
    const outputs = template.toJSON().Outputs;
    expect(
      outputs.EgressIps.Value['Fn::Join'][1].map((r: { Ref: string }) => r.Ref).sort()
    ).toEqual(ids);
    expect(
      outputs.EgressEipAllocationIds.Value['Fn::Join'][1]
        .map((r: { 'Fn::GetAtt': string[] }) => r['Fn::GetAtt'][0])
        .sort()
    ).toEqual(ids);
  });

  it('passes the cdk-nag AWS Solutions and Serverless checks with every remaining finding acknowledged', () => {
    expect(violations).toEqual([]);
  });
});
