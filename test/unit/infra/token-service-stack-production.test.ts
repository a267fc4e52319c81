import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { runbookSections } from '../../support/docs';
import { COMPONENT_APPID } from '../../support/test-ids';
import { undeliverableAlarmActions } from './alarm-delivery';
import {
  actionsOf,
  defaultRouteTargets,
  FUNCTION_IDS,
  functionProps,
  type NagViolation,
  resource,
  roleStatements,
  synthStack,
} from './synth-stack';

const MINIMAL = { componentAppId: COMPONENT_APPID };
type Json = Record<string, unknown>;
interface KeyStatement {
  Sid?: string;
  Effect: string;
  Principal: { AWS?: unknown; Service?: unknown };
  Action: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const resourcesOf = (template: Template, type: string) =>
  Object.entries(template.findResources(type)) as [string, { Properties: Json }][];
const lambdaFunctions = (template: Template): (Json & { id: string })[] =>
  resourcesOf(template, 'AWS::Lambda::Function').map(([id, r]) => ({ id, ...r.Properties }));
const roleArnOf = (template: Template, id: (typeof FUNCTION_IDS)[number]) => ({
  'Fn::GetAtt': [functionProps(template, id).Role['Fn::GetAtt'][0], 'Arn'],
});

describe.each(['cn-north-1', 'cn-northwest-1'])(
  'TokenServiceStack in the China region %s',
  (region) => {
    let template: Template;
    let violations: NagViolation[];
    let stackName: string;

    beforeAll(() => {
      ({ template, violations, stackName } = synthStack({
        ...MINIMAL,
        region,
        lambdaRuntime: 'nodejs22.x',
      }));
    });

    it('runs every Lambda of the stack, CDK’s own provider included, on the named runtime', () => {
      const functions = lambdaFunctions(template);
      expect(functions.length).toBe(FUNCTION_IDS.length + 1);
      expect(new Set(functions.map((f) => f.Runtime))).toEqual(new Set(['nodejs22.x']));
    });

    it('turns X-Ray off, where Lambda does not offer it, and grants no X-Ray action', () => {
      for (const f of lambdaFunctions(template)) expect(f.TracingConfig).toBeUndefined();
      for (const id of FUNCTION_IDS) {
        expect(
          actionsOf(roleStatements(template, id)).filter((a) => a.action.startsWith('xray:'))
        ).toEqual([]);
      }
    });

    it('builds every ARN from the partition: no literal arn:aws: anywhere', () => {
      expect(JSON.stringify(template.toJSON())).not.toMatch(/"arn:aws:/);
    });

    it('lets CloudWatch deliver every alarm action in the China partition', () => {
      const china = [{ partition: 'aws-cn', region, accountId: '210987654321' }];
      expect(undeliverableAlarmActions(template.toJSON(), stackName, china)).toEqual([]);
    });

    it('passes the cdk-nag checks, the tracing and runtime choices acknowledged', () => {
      expect(violations).toEqual([]);
    });
  }
);

describe('TokenServiceStack with a key it creates (kmsKey=create)', () => {
  let template: Template;
  let violations: NagViolation[];
  let stackName: string;
  let keyId: string;
  let statements: KeyStatement[];

  beforeAll(() => {
    ({ template, violations, stackName } = synthStack({ ...MINIMAL, kmsKey: 'create' }));
    const keys = resourcesOf(template, 'AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    keyId = keys[0]![0];
    const key = keys[0]![1].Properties as {
      EnableKeyRotation: boolean;
      KeyPolicy: { Statement: KeyStatement[] };
    };
    expect(key.EnableKeyRotation).toBe(true);
    statements = key.KeyPolicy.Statement;
  });

  const keyArn = () => ({ 'Fn::GetAtt': [keyId, 'Arn'] });

  it('encrypts the table, both secrets, the alarm topic and the dead-letter queue with it', () => {
    const [, table] = resourcesOf(template, 'AWS::DynamoDB::Table')[0]!;
    expect(table.Properties.SSESpecification).toEqual({
      KMSMasterKeyId: keyArn(),
      SSEEnabled: true,
      SSEType: 'KMS',
    });
    const secrets = resourcesOf(template, 'AWS::SecretsManager::Secret');
    expect(secrets.map(([, s]) => s.Properties.KmsKeyId)).toEqual([keyArn(), keyArn()]);
    const [, topic] = resourcesOf(template, 'AWS::SNS::Topic')[0]!;
    expect(topic.Properties.KmsMasterKeyId).toEqual(keyArn());
    const [, queue] = resourcesOf(template, 'AWS::SQS::Queue')[0]!;
    expect(queue.Properties.KmsMasterKeyId).toEqual(keyArn());
    expect(resource(template, keyId).UpdateReplacePolicy).toBe('Retain');
  });

  it('lets only the function roles decrypt through DynamoDB and Secrets Manager, and nobody else', () => {
    const via = (s: KeyStatement) =>
      JSON.stringify(s.Condition?.StringEquals?.['kms:ViaService'] ?? null).match(
        /"(dynamodb|secretsmanager|sqs)\./
      )?.[1] ?? 'any service';
    const who = (s: KeyStatement) => {
      const principals = asArray(s.Principal.AWS ?? s.Principal.Service).map((p) =>
        JSON.stringify(p).includes(':root"') ? 'the account' : p
      );
      return principals.length === FUNCTION_IDS.length ? new Set(principals) : principals;
    };
    const decrypting = statements
      .filter((s) => s.Effect === 'Allow')
      .filter((s) => asArray(s.Action).some((a) => ['kms:Decrypt', 'kms:*', '*'].includes(a)))
      .map((s) => ({ via: via(s), who: who(s) }));
    const roles = new Set(FUNCTION_IDS.map((id) => roleArnOf(template, id)));
    const schedulerRole = {
      'Fn::GetAtt': [expect.stringMatching(/^RefreshScheduleSchedulerRole/), 'Arn'],
    };
    expect(decrypting).toEqual([
      { via: 'sqs', who: ['the account'] },
      { via: 'secretsmanager', who: roles },
      { via: 'dynamodb', who: roles },
      { via: 'sqs', who: [schedulerRole] },
      { via: 'any service', who: ['cloudwatch.amazonaws.com'] },
    ]);
  });

  it('lets the account administer the key but not use it, nor grant itself its use', () => {
    const admin = statements.find((s) => s.Sid === 'AdministerWithoutUse')!;
    const actions = asArray(admin.Action);
    expect(actions).not.toContain('kms:*');
    for (const use of ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:CreateGrant']) {
      expect(actions.some((a) => new RegExp(`^${a.replace('*', '.*')}$`).test(use))).toBe(false);
    }
    const grant = statements.filter((s) => asArray(s.Action).includes('kms:CreateGrant'));
    expect(grant.map((s) => s.Condition?.Bool)).toEqual([{ 'kms:GrantIsForAWSResource': 'true' }]);
  });

  it('lets CloudWatch deliver every alarm to the encrypted topic, and not once the key forbids it', () => {
    const json = template.toJSON();
    expect(undeliverableAlarmActions(json, stackName)).toEqual([]);
    const broken = structuredClone(json) as {
      Resources: Record<string, { Properties: { KeyPolicy: { Statement: KeyStatement[] } } }>;
    };
    const policy = broken.Resources[keyId]!.Properties.KeyPolicy;
    policy.Statement = policy.Statement.filter(
      (s) => s.Sid !== 'AllowThisStacksAlarmsToUseTheTopicKey'
    );
    const problems = undeliverableAlarmActions(broken, stackName);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(/key policy of/);
  });

  it('outputs the key', () => {
    expect(template.toJSON().Outputs.KmsKeyArn.Value).toEqual(keyArn());
    expect(template.toJSON().Outputs.KeyPolicyStatements).toBeUndefined();
  });

  it('passes the cdk-nag checks, SNS2 now met instead of acknowledged', () => {
    expect(violations).toEqual([]);
  });
});

describe('TokenServiceStack with an existing key (kmsKey=<ARN>)', () => {
  const KEY = 'arn:aws:kms:ap-east-1:123456789012:key/0123abcd-4567-89ab-cdef-0123456789ab';
  let template: Template;
  let violations: NagViolation[];

  beforeAll(() => {
    ({ template, violations } = synthStack({ ...MINIMAL, kmsKey: KEY }));
  });

  it('creates no key, and grants each role the key through its services in the role’s own policy', () => {
    expect(resourcesOf(template, 'AWS::KMS::Key')).toEqual([]);
    for (const id of FUNCTION_IDS) {
      const kms = roleStatements(template, id).filter((s) =>
        JSON.stringify(s.Resource).includes(KEY)
      ) as unknown as { Action: string[]; Condition: KeyStatement['Condition'] }[];
      const services = kms.map(
        (s) => JSON.stringify(s.Condition?.StringEquals?.['kms:ViaService']).match(/"(\w+)\./)?.[1]
      );
      expect(services.sort()).toEqual(['dynamodb', 'secretsmanager']);
    }
  });

  it('outputs the statements the key’s policy must hold, CloudWatch’s for the topic included', () => {
    const output = JSON.stringify(template.toJSON().Outputs.KeyPolicyStatements.Value);
    for (const sid of ['UseThroughDynamoDb', 'UseThroughSecretsManager', 'UseThroughSqs']) {
      expect(output).toContain(sid);
    }
    expect(output).toContain('cloudwatch.amazonaws.com');
  });

  it('passes the cdk-nag checks', () => {
    expect(violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('TokenServiceStack with a NAT instance (egress=nat-instance)', () => {
  let template: Template;
  let violations: NagViolation[];
  let stackName: string;

  beforeAll(() => {
    ({ template, violations, stackName } = synthStack({ ...MINIMAL, egress: 'nat-instance' }));
  });

  it('runs one instance on the retained Elastic IP, and no NAT gateway', () => {
    expect(resourcesOf(template, 'AWS::EC2::NatGateway')).toEqual([]);
    const instances = resourcesOf(template, 'AWS::EC2::Instance');
    expect(instances).toHaveLength(1);
    const [instanceId, instance] = instances[0]!;
    expect(instance.Properties.InstanceType).toBe('t4g.nano');
    expect(instance.Properties.SourceDestCheck).toBe(false);
    expect(JSON.stringify(instance.Properties.ImageId)).toMatch(/al2023.*arm64/);
    expect(instance.Properties.BlockDeviceMappings).toEqual([
      expect.objectContaining({ Ebs: expect.objectContaining({ Encrypted: true }) }),
    ]);
    const [eipId, eip] = resourcesOf(template, 'AWS::EC2::EIP')[0]!;
    expect(resource(template, eipId).DeletionPolicy).toBe('RetainExceptOnCreate');
    expect(eip.Properties.Domain).toBe('vpc');
    const [, association] = resourcesOf(template, 'AWS::EC2::EIPAssociation')[0]!;
    expect(association.Properties).toEqual({
      AllocationId: { 'Fn::GetAtt': [eipId, 'AllocationId'] },
      InstanceId: { Ref: instanceId },
    });
    expect(template.toJSON().Outputs.EgressIps.Value).toEqual({ Ref: eipId });
  });

  it('routes every function’s subnets through the instance', () => {
    const [instanceId] = resourcesOf(template, 'AWS::EC2::Instance')[0]!;
    for (const id of FUNCTION_IDS) {
      for (const target of defaultRouteTargets(template, id)) {
        expect((target as { defaultRoute: Json }).defaultRoute).toMatchObject({
          InstanceId: { Ref: instanceId },
        });
      }
    }
  });

  it('lets only the functions’ HTTPS in', () => {
    const [sgId, sg] = resourcesOf(template, 'AWS::EC2::SecurityGroup').find(([id]) =>
      id.includes('NatSecurityGroup')
    )!;
    expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
    const ingress = resourcesOf(template, 'AWS::EC2::SecurityGroupIngress')
      .map(([, r]) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId).includes(sgId));
    expect(ingress).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        SourceSecurityGroupId: {
          'Fn::GetAtt': [expect.stringMatching(/^EgressFunctionSecurityGroup/), 'GroupId'],
        },
      }),
    ]);
  });

  it('recovers the instance on a host failure and reboots it on its own, telling the topic, with a runbook', () => {
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').filter(([id]) =>
      id.startsWith('AlarmsNatInstance')
    );
    const actions = Object.fromEntries(
      alarms.map(([, a]) => [
        a.Properties.MetricName,
        JSON.stringify(a.Properties.AlarmActions).match(/ec2:(\w+)/)?.[1],
      ])
    );
    expect(actions).toEqual({
      StatusCheckFailed_System: 'recover',
      StatusCheckFailed_Instance: 'reboot',
    });
    expect(
      resourcesOf(template, 'AWS::CloudWatch::Alarm').some(([id]) => id.includes('NatPort'))
    ).toBe(false);
    const runbook = runbookSections();
    expect(runbook).toContain('NatInstanceRecovery');
    expect(runbook).toContain('NatInstanceReboot');
    expect(undeliverableAlarmActions(template.toJSON(), stackName)).toEqual([]);
  });

  it('passes the cdk-nag checks, with every remaining finding acknowledged', () => {
    expect(violations).toEqual([]);
  });
});
