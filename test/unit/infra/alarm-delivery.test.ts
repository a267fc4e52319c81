import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { allowAlarmPublishing } from '../../../infra/constructs/alarms';
import { alarmActionCounts, undeliverableAlarmActions } from './alarm-delivery';

const STACK = 'Svc-prod';
const partition = { Ref: 'AWS::Partition' };
const region = { Ref: 'AWS::Region' };
const account = { Ref: 'AWS::AccountId' };

/** What `enforceSSL: true` puts in a topic policy, and all the policy held before the fix. */
const SSL_ONLY_DENY = {
  Sid: 'AllowPublishThroughSSLOnly',
  Effect: 'Deny',
  Principal: '*',
  Action: 'sns:Publish',
  Resource: { Ref: 'Topic' },
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
};
const alarmArnPattern = (parts: unknown[]) => ({ 'Fn::Join': ['', parts] });
const ALLOW_CLOUDWATCH = {
  Sid: 'AllowAlarms',
  Effect: 'Allow',
  Principal: { Service: 'cloudwatch.amazonaws.com' },
  Action: 'sns:Publish',
  Resource: { Ref: 'Topic' },
  Condition: {
    StringEquals: { 'aws:SourceAccount': account },
    ArnLike: {
      'aws:SourceArn': alarmArnPattern([
        'arn:',
        partition,
        ':cloudwatch:',
        region,
        ':',
        account,
        `:alarm:${STACK}-*`,
      ]),
    },
  },
};
const allowWith = (condition: Record<string, unknown>) => ({
  ...ALLOW_CLOUDWATCH,
  Condition: condition,
});

function fragment(options: {
  statements?: unknown[];
  topic?: Record<string, unknown>;
  actions?: unknown[];
  extra?: Record<string, unknown>;
}) {
  const actions = options.actions ?? [{ Ref: 'Topic' }];
  return {
    Resources: {
      Topic: { Type: 'AWS::SNS::Topic', Properties: options.topic ?? {} },
      ...(options.statements
        ? {
            TopicPolicy: {
              Type: 'AWS::SNS::TopicPolicy',
              Properties: {
                Topics: [{ Ref: 'Topic' }],
                PolicyDocument: { Version: '2012-10-17', Statement: options.statements },
              },
            },
          }
        : {}),
      RefreshErrors: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: `${STACK}-RefreshErrors`,
          AlarmActions: actions,
          OKActions: actions,
        },
      },
      ...options.extra,
    },
  };
}
const check = (template: unknown) => undeliverableAlarmActions(template, STACK);

describe('undeliverableAlarmActions on template fragments', () => {
  it('fails every action of a topic whose policy holds only the SSL-only Deny (the issue)', () => {
    expect(check(fragment({ statements: [SSL_ONLY_DENY] }))).toEqual(
      ['aws', 'aws-cn'].flatMap((p) =>
        ['AlarmActions', 'OKActions'].map(
          (key) =>
            `RefreshErrors ${key}[0] in ${p}: policy of topic Topic: no statement allows ` +
            'sns:Publish to cloudwatch.amazonaws.com'
        )
      )
    );
  });

  it('passes the SSL-only Deny with an Allow for CloudWatch scoped to this account and these alarms', () => {
    expect(check(fragment({ statements: [SSL_ONLY_DENY, ALLOW_CLOUDWATCH] }))).toEqual([]);
  });

  it('passes a topic without a topic policy: SNS’s default policy lets the owner account publish', () => {
    expect(check(fragment({}))).toEqual([]);
  });

  it('fails a source ARN built by hand for one partition, in the other', () => {
    const handBuilt = allowWith({
      ArnLike: {
        'aws:SourceArn': alarmArnPattern([
          'arn:aws:cloudwatch:',
          region,
          ':',
          account,
          `:alarm:${STACK}-*`,
        ]),
      },
    });
    const problems = check(fragment({ statements: [SSL_ONLY_DENY, handBuilt] }));
    expect(problems).toHaveLength(2);
    for (const p of problems) expect(p).toMatch(/ in aws-cn: .*no statement allows/);
  });

  it('fails a hard-coded source account wherever the stack is deployed in another', () => {
    const pinned = allowWith({ StringEquals: { 'aws:SourceAccount': '123456789012' } });
    const problems = check(fragment({ statements: [pinned] }));
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'RefreshErrors AlarmActions[0] in aws-cn',
      'RefreshErrors OKActions[0] in aws-cn',
    ]);
  });

  it('fails alarms whose names the source ARN pattern does not cover', () => {
    const other = fragment({ statements: [SSL_ONLY_DENY, ALLOW_CLOUDWATCH] });
    other.Resources.RefreshErrors.Properties.AlarmName = 'Another-stack-RefreshErrors';
    expect(check(other)).toHaveLength(4);
  });

  it('fails an Allow for the account’s principals instead of the CloudWatch service', () => {
    const root = {
      ...ALLOW_CLOUDWATCH,
      Principal: { AWS: { 'Fn::Join': ['', ['arn:', account]] } },
    };
    expect(check(fragment({ statements: [root] }))).toHaveLength(4);
  });

  it('fails when a Deny applies to CloudWatch’s request, even next to an Allow', () => {
    const denyAll = { ...SSL_ONLY_DENY, Condition: undefined };
    expect(check(fragment({ statements: [ALLOW_CLOUDWATCH, denyAll] }))[0]).toMatch(
      /statement AllowPublishThroughSSLOnly denies sns:Publish/
    );
  });

  it('reports a Deny it cannot evaluate instead of assuming it does not apply', () => {
    const odd = { ...SSL_ONLY_DENY, Condition: { DateGreaterThan: { 'aws:CurrentTime': 'x' } } };
    expect(check(fragment({ statements: [ALLOW_CLOUDWATCH, odd] }))[0]).toMatch(
      /cannot evaluate Deny .*DateGreaterThan/
    );
  });

  it('fails a topic encrypted with the AWS-managed SNS key', () => {
    const problems = check(
      fragment({
        statements: [SSL_ONLY_DENY, ALLOW_CLOUDWATCH],
        topic: { KmsMasterKeyId: 'alias/aws/sns' },
      })
    );
    expect(problems[0]).toMatch(/AWS-managed key alias\/aws\/sns/);
  });

  it('checks the key policy of a customer-managed key: CloudWatch needs Decrypt and GenerateDataKey', () => {
    const keyWith = (statements: unknown[]) =>
      fragment({
        statements: [SSL_ONLY_DENY, ALLOW_CLOUDWATCH],
        topic: { KmsMasterKeyId: { 'Fn::GetAtt': ['Key', 'Arn'] } },
        extra: {
          Key: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: { Statement: statements } } },
        },
      });
    const rootOnly = {
      Effect: 'Allow',
      Principal: { AWS: { 'Fn::Join': ['', ['arn:', partition, ':iam::', account, ':root']] } },
      Action: 'kms:*',
      Resource: '*',
    };
    expect(check(keyWith([rootOnly]))[0]).toMatch(
      /key policy of Key: no statement allows kms:Decrypt to cloudwatch/
    );
    const cloudwatchUse = {
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Resource: '*',
      Condition: { StringEquals: { 'aws:SourceAccount': account } },
    };
    expect(check(keyWith([rootOnly, cloudwatchUse]))).toEqual([]);
    const decryptOnly = { ...cloudwatchUse, Action: 'kms:Decrypt' };
    expect(check(keyWith([rootOnly, decryptOnly]))[0]).toMatch(/kms:GenerateDataKey/);
  });

  it('reports actions it cannot follow and alarms nobody hears of', () => {
    const elsewhere = fragment({ actions: ['arn:aws:sns:ap-east-1:111122223333:other'] });
    expect(check(elsewhere)[0]).toMatch(/is not an SNS topic of this template/);
    const silent = fragment({ actions: [] });
    expect(check(silent)).toEqual(['RefreshErrors: no AlarmActions']);
  });
});

describe('undeliverableAlarmActions on a synthesized stack', () => {
  /** A topic and alarm as ServiceAlarms builds them; `fixed` adds the grant the fix adds. */
  function synth(options: { fixed: boolean; alarmName: (stack: Stack) => string }) {
    const stack = new Stack(new App(), 'Svc-prod');
    const topic = new sns.Topic(stack, 'Topic', { enforceSSL: true });
    if (options.fixed) allowAlarmPublishing(topic, `${stack.stackName}-`);
    const alarm = new cloudwatch.Alarm(stack, 'RefreshErrors', {
      alarmName: options.alarmName(stack),
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName: 'Errors',
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
    });
    alarm.addAlarmAction(new SnsAction(topic));
    alarm.addOkAction(new SnsAction(topic));
    return Template.fromStack(stack).toJSON();
  }
  const named = (stack: Stack) => `${stack.stackName}-RefreshErrors`;

  it('fails every action with the topic as it was (enforceSSL alone)', () => {
    const template = synth({ fixed: false, alarmName: named });
    expect(Object.values(alarmActionCounts(template))).toEqual([2]);
    const problems = undeliverableAlarmActions(template, 'Svc-prod');
    expect(problems).toHaveLength(4);
    for (const p of problems) expect(p).toMatch(/no statement allows sns:Publish to cloudwatch/);
  });

  it('delivers every action once allowAlarmPublishing grants this stack’s alarms', () => {
    expect(undeliverableAlarmActions(synth({ fixed: true, alarmName: named }), 'Svc-prod')).toEqual(
      []
    );
  });

  it('still refuses an alarm of the same account whose name is outside the stack’s prefix', () => {
    const template = synth({ fixed: true, alarmName: () => 'someone-else' });
    expect(undeliverableAlarmActions(template, 'Svc-prod')).toHaveLength(4);
  });
});
