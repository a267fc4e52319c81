import Ajv from 'ajv';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { REQUIRED_ENV } from '../../../shared/config';
import {
  LIFECYCLE_EVENT_TYPES,
  type LifecycleEventType,
  lifecycleEvent,
} from '../../../shared/events/lifecycle-event';
import { wechatMessageEvent } from '../../../shared/events/wechat-message-event';
import { readWechatMessage } from '../../../shared/messages/read-wechat-message';
import { QUOTA_WARN_SHARE } from '../../../shared/policy';
import { TABLE_SCHEMA } from '../../../shared/store/table-schema';
import { docSection, documentedRouteThrottles, runbookSections } from '../../support/docs';
import { AUTHORIZER_APPID, COMPONENT_APPID, T0 } from '../../support/test-ids';
import { alarmActionCounts, undeliverableAlarmActions } from './alarm-delivery';
import {
  actionsOf,
  defaultRouteTargets,
  FUNCTION_IDS,
  type FunctionId,
  functionLogicalId,
  functionProps,
  type NagViolation,
  resolveJoin,
  roleStatements,
  synthStack,
} from './synth-stack';

const DYNAMODB_ACTIONS: Record<FunctionId, string[]> = {
  AuthEvent: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  AuthorizePage: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
  AuthorizeCallback: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  Refresh: [
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:Query',
    'dynamodb:Scan',
  ],
  GetToken: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
  CallWeChat: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
  WechatMessage: ['dynamodb:GetItem'],
};

/**
 * The functions that publish on the bus: those that can change an authorizer's lifecycle, and the message
 * intake, which puts the authorizers' messages and events there.
 */
const EVENT_PUBLISHERS: readonly FunctionId[] = [
  'AuthEvent',
  'AuthorizeCallback',
  'Refresh',
  'GetToken',
  'CallWeChat',
  'WechatMessage',
];

/** The functions that decrypt WeChat's pushes, and so read the message token and EncodingAESKey. */
const PUSH_RECEIVERS: readonly FunctionId[] = ['AuthEvent', 'WechatMessage'];

const ENI_ACTIONS = [
  'ec2:AssignPrivateIpAddresses',
  'ec2:CreateNetworkInterface',
  'ec2:DeleteNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:UnassignPrivateIpAddresses',
];

let template: Template;
let violations: NagViolation[];
let stackName: string;

beforeAll(() => {
  ({ template, violations, stackName } = synthStack({ componentAppId: COMPONENT_APPID }));
});

const logicalIdOf = (type: string) => {
  const ids = Object.keys(template.findResources(type));
  expect(ids).toHaveLength(1);
  return ids[0]!;
};
const tableId = () => logicalIdOf('AWS::DynamoDB::Table');
const busId = () => logicalIdOf('AWS::Events::EventBus');
/** A registered schema (`LifecycleEvent`, …), parsed, with its validator (Draft 4 words, read by Ajv). */
const registeredSchema = (name: string) => {
  const [resource] = Object.values(
    template.findResources('AWS::EventSchemas::Schema', {
      Properties: { SchemaName: `wechat-token-service@${name}` },
    })
  );
  const schema = JSON.parse(resource?.Properties.Content);
  const validate = new Ajv({ strict: true, allErrors: true, validateSchema: false }).compile(
    schema
  );
  const errorsOf = (event: unknown) =>
    validate(event)
      ? []
      : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
  return { schema, errorsOf };
};
const envelope = <D extends { time: string }>(detailType: string, detail: D) => ({
  source: 'wechat-token-service',
  'detail-type': detailType,
  time: detail.time,
  detail,
});
/** The created secret of a construct id (`ComponentSecret`, `MessageSecret`). */
const secretId = (construct: string) => {
  const ids = Object.keys(template.findResources('AWS::SecretsManager::Secret')).filter((id) =>
    new RegExp(`^${construct}[0-9A-F]{8}$`).test(id)
  );
  expect(ids).toHaveLength(1);
  return ids[0]!;
};

describe('TokenServiceStack with default context', () => {
  it('names the stack after the default stage', () => {
    expect(stackName).toBe('WeChatTokenService-prod');
  });

  it('passes every REQUIRED_ENV variable to each of the seven functions', () => {
    for (const id of FUNCTION_IDS) {
      const variables = functionProps(template, id).Environment.Variables;
      for (const name of REQUIRED_ENV) expect(variables, `${id} ${name}`).toHaveProperty(name);
    }
  });

  it('sets the component appid, secret ARNs, table name, egress IP and Powertools settings on every function', () => {
    for (const id of FUNCTION_IDS) {
      expect(functionProps(template, id).Environment.Variables).toEqual({
        EGRESS_IP: { Ref: logicalIdOf('AWS::EC2::EIP') },
        TOKEN_TABLE_NAME: { Ref: tableId() },
        COMPONENT_APPID,
        COMPONENT_SECRET_ID: { Ref: secretId('ComponentSecret') },
        ...(PUSH_RECEIVERS.includes(id)
          ? { MESSAGE_SECRET_ID: { Ref: secretId('MessageSecret') } }
          : {}),
        ...(EVENT_PUBLISHERS.includes(id) ? { EVENT_BUS_NAME: { Ref: busId() } } : {}),
        ...(id === 'WechatMessage'
          ? { REFRESH_FUNCTION_NAME: { Ref: functionLogicalId(template, 'Refresh') } }
          : {}),
        POWERTOOLS_SERVICE_NAME: 'wechat-token-service',
        POWERTOOLS_METRICS_NAMESPACE: 'WeChatTokenService',
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      });
    }
  });

  it('runs every function on Node.js 24, arm64, with its own log group that has a retention', () => {
    const logGroups = template.findResources('AWS::Logs::LogGroup');
    for (const id of FUNCTION_IDS) {
      const props = functionProps(template, id);
      expect(props).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
      const logGroupId = (props.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(logGroupId.startsWith(`${id}LogGroup`)).toBe(true);
      expect(logGroups[logGroupId]?.Properties.RetentionInDays).toBeGreaterThan(0);
    }
  });

  it('logs every function in Lambda’s JSON format, at the level Powertools is given, into its own log group', () => {
    const logGroups = template.findResources('AWS::Logs::LogGroup');
    for (const id of FUNCTION_IDS) {
      const props = functionProps(template, id);
      expect(props.LoggingConfig, id).toEqual({
        LogFormat: 'JSON',
        ApplicationLogLevel: 'INFO',
        SystemLogLevel: 'INFO',
        LogGroup: { Ref: expect.stringMatching(new RegExp(`^${id}LogGroup`)) },
      });
      // Powertools follows AWS_LAMBDA_LOG_LEVEL over LOG_LEVEL: both must say the same.
      expect(props.Environment.Variables.LOG_LEVEL, id).toBe('INFO');
      // The JSON format does not replace the log group: the retention still applies.
      const logGroupId = (props.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(logGroups[logGroupId]?.Properties.RetentionInDays, id).toBe(90);
    }
    // No log group is left for Lambda to create without a retention.
    expect(
      Object.keys(logGroups).filter((lg) => !logGroups[lg]!.Properties.RetentionInDays)
    ).toEqual([]);
  });

  it('reserves no concurrency by default: Lambda refuses reservations an account cannot spare', () => {
    for (const id of FUNCTION_IDS) {
      expect(functionProps(template, id), id).not.toHaveProperty('ReservedConcurrentExecutions');
    }
  });

  it('gives refresh a 5-minute timeout and 1 GB, call-wechat 30 s, and the HTTP functions a short timeout', () => {
    expect(functionProps(template, 'Refresh')).toMatchObject({ Timeout: 300, MemorySize: 1024 });
    expect(functionProps(template, 'CallWeChat')).toMatchObject({ Timeout: 30, MemorySize: 512 });
    for (const id of [
      'AuthEvent',
      'AuthorizePage',
      'AuthorizeCallback',
      'GetToken',
      'WechatMessage',
    ] as const) {
      expect(functionProps(template, id).Timeout).toBeLessThanOrEqual(10);
    }
  });

  it('grants each function exactly its DynamoDB actions, on the table only', () => {
    for (const id of FUNCTION_IDS) {
      const dynamo = actionsOf(roleStatements(template, id)).filter((a) =>
        a.action.startsWith('dynamodb:')
      );
      expect(dynamo.map((a) => a.action).sort(), id).toEqual([...DYNAMODB_ACTIONS[id]].sort());
      for (const { action, resources } of dynamo) {
        if (action === 'dynamodb:Query') continue;
        expect(resources, `${id} ${action}`).toEqual([{ 'Fn::GetAtt': [tableId(), 'Arn'] }]);
      }
    }
  });

  it('lets only refresh Query (the due index) and Scan (the table, for operators); nobody may DeleteItem', () => {
    const queries = FUNCTION_IDS.flatMap((id) =>
      actionsOf(roleStatements(template, id))
        .filter((a) => a.action === 'dynamodb:Query')
        .map((a) => ({ id, resources: a.resources }))
    );
    expect(queries).toEqual([
      {
        id: 'Refresh',
        resources: [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId(), 'Arn'] }, '/index/due']] }],
      },
    ]);
    const scans = FUNCTION_IDS.flatMap((id) =>
      actionsOf(roleStatements(template, id))
        .filter((a) => a.action === 'dynamodb:Scan')
        .map((a) => ({ id, resources: a.resources }))
    );
    expect(scans).toEqual([{ id: 'Refresh', resources: [{ 'Fn::GetAtt': [tableId(), 'Arn'] }] }]);
    const everyAction = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(everyAction).not.toMatch(/dynamodb:(DeleteItem|BatchWriteItem|\*)/);
  });

  it('gives each function nothing beyond its log group, VPC networking, table actions, its secrets, its bus grant and its refresh jobs', () => {
    for (const id of FUNCTION_IDS) {
      const actions = actionsOf(roleStatements(template, id));
      const allowed = new Set([
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        ...ENI_ACTIONS,
        ...DYNAMODB_ACTIONS[id],
        'secretsmanager:GetSecretValue',
        'secretsmanager:DescribeSecret',
        ...(EVENT_PUBLISHERS.includes(id) ? ['events:PutEvents'] : []),
        ...(id === 'WechatMessage' ? ['lambda:InvokeFunction'] : []),
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
      ]);
      expect(
        actions.filter((a) => !allowed.has(a.action)),
        id
      ).toEqual([]);
      const readable = actions
        .filter((x) => x.action.startsWith('secretsmanager:'))
        .flatMap((a) => a.resources);
      expect(new Set(readable.map((r) => JSON.stringify(r))), id).toEqual(
        new Set(
          [
            secretId('ComponentSecret'),
            ...(PUSH_RECEIVERS.includes(id) ? [secretId('MessageSecret')] : []),
          ].map((ref) => JSON.stringify({ Ref: ref }))
        )
      );
      for (const a of actions.filter((x) => x.action.startsWith('logs:'))) {
        expect(a.resources, id).toEqual([
          { 'Fn::GetAtt': [expect.stringMatching(new RegExp(`^${id}LogGroup`)), 'Arn'] },
        ]);
      }
    }
  });

  it('traces every function with Lambda active tracing but get-token and call-wechat, which pass through', () => {
    for (const id of FUNCTION_IDS) {
      const passThrough = id === 'GetToken' || id === 'CallWeChat';
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.anyValue(),
        TracingConfig: { Mode: passThrough ? 'PassThrough' : 'Active' },
        LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp(`^${id}LogGroup`) } },
      });
    }
  });

  it('creates one event bus for lifecycle events; the functions that change authorizers may publish there only', () => {
    template.hasResourceProperties('AWS::Events::EventBus', {
      Name: Match.anyValue(),
      Description: Match.stringLikeRegexp('lifecycle'),
    });
    const publishers = FUNCTION_IDS.filter((id) =>
      actionsOf(roleStatements(template, id)).some((a) => a.action.startsWith('events:'))
    );
    expect(publishers).toEqual([...EVENT_PUBLISHERS]);
    for (const id of publishers) {
      const grants = actionsOf(roleStatements(template, id)).filter((a) =>
        a.action.startsWith('events:')
      );
      expect(grants, id).toEqual([
        { action: 'events:PutEvents', resources: [{ 'Fn::GetAtt': [busId(), 'Arn'] }] },
      ]);
    }
  });

  it('lets wechat-message invoke the refresh function, by its name in its environment, and nothing else', () => {
    const refresh = functionLogicalId(template, 'Refresh');
    const invokes = FUNCTION_IDS.flatMap((id) =>
      actionsOf(roleStatements(template, id))
        .filter((a) => a.action.startsWith('lambda:'))
        .map((a) => ({ id, ...a }))
    );
    expect(invokes).toEqual([
      {
        id: 'WechatMessage',
        action: 'lambda:InvokeFunction',
        resources: [{ 'Fn::GetAtt': [refresh, 'Arn'] }],
      },
    ]);
    expect(functionProps(template, 'WechatMessage').Environment.Variables).toMatchObject({
      REFRESH_FUNCTION_NAME: { Ref: refresh },
    });
  });

  it('lets wechat-message only read the table, with GetItem', () => {
    const dynamo = actionsOf(roleStatements(template, 'WechatMessage')).filter((a) =>
      a.action.startsWith('dynamodb:')
    );
    expect(dynamo).toEqual([
      { action: 'dynamodb:GetItem', resources: [{ 'Fn::GetAtt': [tableId(), 'Arn'] }] },
    ]);
  });

  it('outputs the event bus for the rules of the services that consume its events', () => {
    template.hasOutput('EventBusName', { Value: { Ref: busId() } });
    template.hasOutput('EventBusArn', { Value: { 'Fn::GetAtt': [busId(), 'Arn'] } });
  });

  it('registers one Draft 4 schema per event contract in a schema registry, and outputs its name', () => {
    const registryName = {
      'Fn::GetAtt': [logicalIdOf('AWS::EventSchemas::Registry'), 'RegistryName'],
    };
    const schemas = Object.values(template.findResources('AWS::EventSchemas::Schema'));

    expect(schemas.map((s) => s.Properties.SchemaName).sort()).toEqual([
      'wechat-token-service@LifecycleEvent',
      'wechat-token-service@WechatMessageEvent',
    ]);
    for (const schema of schemas) {
      expect(schema.Properties).toMatchObject({
        RegistryName: registryName,
        Type: 'JSONSchemaDraft4',
      });
    }
    template.hasOutput('EventSchemaRegistryName', { Value: registryName });
  });

  it('registers what the client’s JSON Schemas say, in Draft 4 words, for the whole event', () => {
    const lifecycle = registeredSchema('LifecycleEvent');
    const messages = registeredSchema('WechatMessageEvent');
    const draft2019Words = JSON.stringify([lifecycle.schema, messages.schema]).match(
      /"(\$defs|\$id|const|if|then|else|prefixItems|unevaluatedProperties)":/g
    );
    const change = (type: LifecycleEventType) => {
      const reason = type === 'revoked' ? 'push' : 'reconciliation';
      const status = type === 'revoked' ? 'revoked' : 'active';
      const at = T0;
      return lifecycleEvent(COMPONENT_APPID, {
        type,
        reason,
        status,
        authorizerAppId: AUTHORIZER_APPID,
        permissionSetIds: [1],
        at,
      });
    };
    const text = wechatMessageEvent(
      COMPONENT_APPID,
      AUTHORIZER_APPID,
      readWechatMessage(
        '<xml><ToUserName><![CDATA[gh_3c884a361561]]></ToUserName><FromUserName><![CDATA[oMgHVjngRipVsoxg6TuX3vz6glDg]]></FromUserName><CreateTime>1800000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content><MsgId>24786315830201827</MsgId></xml>'
      )
    );
    const { Content: _, ...withoutContent } = text.message;

    expect(lifecycle.schema.$schema).toBe('http://json-schema.org/draft-04/schema#');
    expect(draft2019Words).toBeNull();
    expect(lifecycle.schema.properties['detail-type'].enum).toEqual([...LIFECYCLE_EVENT_TYPES]);
    for (const type of LIFECYCLE_EVENT_TYPES) {
      const detail = change(type);
      expect(lifecycle.errorsOf(envelope(type, detail)), type).toEqual([]);
    }
    expect(
      lifecycle.errorsOf({
        version: '0',
        id: 'x',
        account: '123456789012',
        region: 'ap-east-1',
        resources: [],
        ...envelope('revoked', change('revoked')),
      })
    ).toEqual([]);
    expect(
      lifecycle.errorsOf(envelope('authorized', { ...change('authorized'), schemaVersion: 2 }))
    ).not.toEqual([]);
    expect(
      lifecycle.errorsOf(envelope('authorized', { ...change('authorized'), status: 'paused' }))
    ).not.toEqual([]);
    expect(lifecycle.errorsOf(envelope('wechat.message', change('authorized')))).not.toEqual([]);
    expect(messages.errorsOf(envelope('wechat.message', text))).toEqual([]);
    expect(
      messages.errorsOf(envelope('wechat.message', { ...text, message: withoutContent }))
    ).not.toEqual([]);
    expect(
      messages.errorsOf(envelope('wechat.message', { ...text, event: 'CLICK', msgType: 'event' }))
    ).not.toEqual([]);
  });

  it('places all seven functions in private subnets whose default route is the NAT on the created EIP', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    const eipId = logicalIdOf('AWS::EC2::EIP');
    for (const id of FUNCTION_IDS) {
      const targets = defaultRouteTargets(template, id);
      expect(targets.length, id).toBeGreaterThanOrEqual(1);
      for (const target of targets) {
        expect(target, id).toEqual({
          nat: expect.any(String),
          allocationId: { 'Fn::GetAtt': [eipId, 'AllocationId'] },
        });
      }
    }
  });

  it('keeps the created Elastic IP (except after a failed first create) and outputs its IP for the whitelist', () => {
    const eipId = logicalIdOf('AWS::EC2::EIP');
    template.hasResource('AWS::EC2::EIP', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasOutput('EgressIps', { Value: { Ref: eipId } });
    template.hasOutput('EgressEipAllocationIds', {
      Value: { 'Fn::GetAtt': [eipId, 'AllocationId'] },
    });
  });

  it('runs one NAT gateway by default: one IP for the whitelist', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.resourceCountIs('AWS::EC2::EIP', 1);
  });

  it('never plainly retains a resource: what is kept is released when its first create fails, and has no fixed name', () => {
    const resources = Object.entries(
      template.toJSON().Resources as Record<
        string,
        { Type: string; DeletionPolicy?: string; Properties?: Record<string, unknown> }
      >
    );
    expect(resources.filter(([, r]) => r.DeletionPolicy === 'Retain')).toEqual([]);
    const kept = resources.filter(([, r]) => r.DeletionPolicy === 'RetainExceptOnCreate');
    expect(kept.map(([, r]) => r.Type).sort()).toEqual([
      'AWS::DynamoDB::Table',
      'AWS::EC2::EIP',
      'AWS::SecretsManager::Secret',
      'AWS::SecretsManager::Secret',
    ]);
    for (const [id, r] of kept) {
      expect(Object.keys(r.Properties ?? {}), id).not.toEqual(
        expect.arrayContaining([expect.stringMatching(/^(Name|TableName|SecretName)$/)])
      );
    }
  });

  it('lets functions out on HTTPS only', () => {
    template.resourceCountIs('AWS::EC2::SecurityGroup', 1);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: [
        Match.objectLike({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
      ],
    });
  });

  it('logs all VPC traffic', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
  });

  it('keeps the table on stack deletion, with on-demand billing, PITR, TTL and encryption', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
        SSESpecification: { SSEEnabled: true },
      }),
    });
    // Deletion protection would block the rollback of a failed first create (ROLLBACK_FAILED).
    expect(
      template.findResources('AWS::DynamoDB::Table')[tableId()]!.Properties
        .DeletionProtectionEnabled
    ).not.toBe(true);
  });

  it('declares the keys and the due index of TABLE_SCHEMA', () => {
    const { dueIndex } = TABLE_SCHEMA;
    const table = template.findResources('AWS::DynamoDB::Table')[tableId()]!.Properties;
    expect(table.KeySchema).toEqual([
      { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
    ]);
    expect(table.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: TABLE_SCHEMA.partitionKey, AttributeType: 'S' },
        { AttributeName: dueIndex.partitionKey, AttributeType: 'S' },
        { AttributeName: dueIndex.sortKey, AttributeType: 'N' },
      ])
    );
    expect(table.AttributeDefinitions).toHaveLength(3);
    expect(table.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: dueIndex.name,
        KeySchema: [
          { AttributeName: dueIndex.partitionKey, KeyType: 'HASH' },
          { AttributeName: dueIndex.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ]);
  });

  it('schedules refresh every 5 minutes with retries and a dead-letter queue', () => {
    const queueId = logicalIdOf('AWS::SQS::Queue');
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Target: Match.objectLike({
        Arn: { 'Fn::GetAtt': [functionLogicalId(template, 'Refresh'), 'Arn'] },
        RetryPolicy: {
          MaximumRetryAttempts: Match.anyValue(),
          MaximumEventAgeInSeconds: Match.anyValue(),
        },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
      }),
    });
    const schedule = Object.values(template.findResources('AWS::Scheduler::Schedule'))[0]!;
    expect(schedule.Properties.Target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThanOrEqual(1);
  });

  it('schedules the authorizer reconciliation every 6 hours on the same function', () => {
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule'));
    expect(schedules).toHaveLength(2);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(6 hours)',
      Target: Match.objectLike({
        Arn: { 'Fn::GetAtt': [functionLogicalId(template, 'Refresh'), 'Arn'] },
        Input: JSON.stringify({ job: 'reconcile' }),
        DeadLetterConfig: Match.anyValue(),
      }),
    });
  });

  it('turns off Lambda async retries for refresh: the next scheduled run is the retry', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionLogicalId(template, 'Refresh') },
      MaximumRetryAttempts: 0,
    });
  });

  it('routes exactly the four public paths, each to its own function', () => {
    const integrations = template.findResources('AWS::ApiGatewayV2::Integration');
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => {
      const integrationId = r.Properties.Target['Fn::Join'][1][1].Ref as string;
      return [r.Properties.RouteKey, integrations[integrationId]!.Properties.IntegrationUri];
    });
    expect(Object.fromEntries(routes)).toEqual({
      'POST /wechat/events': { 'Fn::GetAtt': [functionLogicalId(template, 'AuthEvent'), 'Arn'] },
      'GET /authorize': { 'Fn::GetAtt': [functionLogicalId(template, 'AuthorizePage'), 'Arn'] },
      'GET /authorize/callback': {
        'Fn::GetAtt': [functionLogicalId(template, 'AuthorizeCallback'), 'Arn'],
      },
      'POST /wechat/messages/{appid}': {
        'Fn::GetAtt': [functionLogicalId(template, 'WechatMessage'), 'Arn'],
      },
    });
  });

  it('throttles each route as the deploy guide documents it (per route, and their sum for the API)', () => {
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0]!.Properties;
    const routeKeys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (r) => r.Properties.RouteKey as string
    );
    const limits = (routeKey: string) => {
      const own = stage.RouteSettings?.[routeKey] ?? {};
      const rate = own.ThrottlingRateLimit ?? stage.DefaultRouteSettings?.ThrottlingRateLimit;
      const burst = own.ThrottlingBurstLimit ?? stage.DefaultRouteSettings?.ThrottlingBurstLimit;
      expect(rate, `${routeKey} has a rate limit`).toBeGreaterThan(0);
      expect(burst, `${routeKey} has a burst limit`).toBeGreaterThan(0);
      return { rate, burst };
    };
    const measured = Object.fromEntries(routeKeys.map((key) => [key, limits(key)]));
    const sum = (field: 'rate' | 'burst') =>
      Object.values(measured).reduce((n, l) => n + (l[field] as number), 0);
    expect(documentedRouteThrottles()).toEqual({
      routes: measured,
      total: { rate: sum('rate'), burst: sum('burst') },
    });
  });

  it('logs and throttles the API stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AccessLogSettings: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('requestId'),
      },
      DefaultRouteSettings: {
        ThrottlingBurstLimit: Match.anyValue(),
        ThrottlingRateLimit: Match.anyValue(),
      },
    });
  });

  it('leaves get-token and call-wechat reachable through IAM in this account only: no permission, URL or integration', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
    for (const p of permissions) expect(p.Properties.Principal).toBe('apigateway.amazonaws.com');
    template.resourceCountIs('AWS::Lambda::Url', 0);
    for (const id of ['GetToken', 'CallWeChat'] as const) {
      const logicalId = functionLogicalId(template, id);
      expect(JSON.stringify(permissions), id).not.toContain(logicalId);
      expect(
        JSON.stringify(template.findResources('AWS::ApiGatewayV2::Integration')),
        id
      ).not.toContain(logicalId);
    }
  });

  it('offers a managed policy that allows invoking get-token and call-wechat and nothing else', () => {
    const policies = template.findResources('AWS::IAM::ManagedPolicy');
    expect(Object.values(policies).map((p) => p.Properties.PolicyDocument.Statement)).toEqual([
      [
        {
          Effect: 'Allow',
          Action: 'lambda:InvokeFunction',
          Resource: [
            { 'Fn::GetAtt': [functionLogicalId(template, 'CallWeChat'), 'Arn'] },
            { 'Fn::GetAtt': [functionLogicalId(template, 'GetToken'), 'Arn'] },
          ],
        },
      ],
    ]);
    template.hasOutput('GetTokenInvokePolicyArn', { Value: { Ref: Object.keys(policies)[0] } });
  });

  it('outputs the get-token and call-wechat functions and the URLs on the API endpoint', () => {
    const apiId = logicalIdOf('AWS::ApiGatewayV2::Api');
    const getToken = functionLogicalId(template, 'GetToken');
    const callWechat = functionLogicalId(template, 'CallWeChat');
    const url = (path: string) => ({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] }, path]],
    });
    template.hasOutput('EventUrl', { Value: url('/wechat/events') });
    // The console's value as it is: WeChat replaces the literal $APPID$ with each authorizer's appid.
    template.hasOutput('MessageUrl', { Value: url('/wechat/messages/$APPID$') });
    template.hasOutput('AuthorizePageUrl', { Value: url('/authorize') });
    template.hasOutput('AuthorizeCallbackUrl', { Value: url('/authorize/callback') });
    template.hasOutput('GetTokenFunctionName', { Value: { Ref: getToken } });
    template.hasOutput('GetTokenFunctionArn', { Value: { 'Fn::GetAtt': [getToken, 'Arn'] } });
    template.hasOutput('CallWeChatFunctionName', { Value: { Ref: callWechat } });
  });

  it('outputs the refresh function, which operators invoke (npx wechat-token --stack)', () => {
    const refresh = functionLogicalId(template, 'Refresh');
    template.hasOutput('RefreshFunctionName', { Value: { Ref: refresh } });
    template.hasOutput('RefreshFunctionArn', { Value: { 'Fn::GetAtt': [refresh, 'Arn'] } });
  });

  it('outputs a ready-to-attach identity policy for callers in other accounts', () => {
    const output = template.toJSON().Outputs.GetTokenCallerPolicy.Value;
    const arn = 'arn:aws:lambda:ap-east-1:123456789012:function:get-token';
    const callWechatArn = 'arn:aws:lambda:ap-east-1:123456789012:function:call-wechat';
    const policy = JSON.parse(
      resolveJoin(output, {
        [functionLogicalId(template, 'GetToken')]: arn,
        [functionLogicalId(template, 'CallWeChat')]: callWechatArn,
      })
    );
    expect(policy).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [arn, callWechatArn] },
      ],
    });
  });

  it('outputs the context that re-attaches what a destroy keeps', () => {
    const output = template.toJSON().Outputs.RebuildContext.Value;
    const text = JSON.stringify(output);
    expect(text).toContain(tableId());
    expect(text).toContain(secretId('ComponentSecret'));
    expect(text).toContain(secretId('MessageSecret'));
    expect(text).toContain(logicalIdOf('AWS::EC2::EIP'));
    const keys = JSON.parse(resolveJoin(output, {}, () => 'x')) as Record<string, string>;
    expect(Object.keys(keys).sort()).toEqual([
      'componentSecretName',
      'egressEipAllocationIds',
      'messageSecretName',
      'tokenTableName',
    ]);
  });

  it('creates the two secrets as kept, unnamed, empty JSON skeletons: the AppSecret apart from the message crypto', () => {
    const secrets = template.findResources('AWS::SecretsManager::Secret');
    expect(secrets[secretId('ComponentSecret')]).toMatchObject({
      DeletionPolicy: 'RetainExceptOnCreate',
      Properties: { SecretString: JSON.stringify({ componentAppSecret: '' }) },
    });
    expect(secrets[secretId('MessageSecret')]).toMatchObject({
      DeletionPolicy: 'RetainExceptOnCreate',
      Properties: { SecretString: JSON.stringify({ token: '', encodingAesKey: '' }) },
    });
    template.hasOutput('ComponentSecretId', { Value: { Ref: secretId('ComponentSecret') } });
    template.hasOutput('MessageSecretId', { Value: { Ref: secretId('MessageSecret') } });
  });

  it('lets only auth-event and wechat-message read the message token and EncodingAESKey', () => {
    const readers = FUNCTION_IDS.filter((id) =>
      JSON.stringify(roleStatements(template, id)).includes(secretId('MessageSecret'))
    );
    expect(readers).toEqual([...PUSH_RECEIVERS]);
  });

  it('alarms on errors of every function, refresh failures, whitelist, tickets, reauthorization, events, messages and DLQ', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties
    );
    const byMetric = (name: string) => alarms.filter((a) => a.MetricName === name);
    expect(
      byMetric('Errors').map((a) => [a.Namespace, a.Dimensions[0].Value.Ref, a.Threshold])
    ).toEqual(
      expect.arrayContaining(
        FUNCTION_IDS.map((id) => ['AWS/Lambda', functionLogicalId(template, id), 1])
      )
    );
    expect(byMetric('Errors')).toHaveLength(FUNCTION_IDS.length);
    for (const name of ['WhitelistRejected', 'TicketUnavailable', 'NeedsReauthorization']) {
      expect(byMetric(name)[0], name).toMatchObject({
        Namespace: 'WeChatTokenService',
        Dimensions: [{ Name: 'service', Value: 'wechat-token-service' }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
    // Events stuck for three scheduled flushes in a row, not one refused publish the next run retries.
    expect(byMetric('LifecycleEventsUnpublished')[0]).toMatchObject({
      Namespace: 'WeChatTokenService',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
    // A message the bus refused is WeChat's to push again, a few times only: one is enough to page.
    expect(byMetric('MessagePublishFailed')).toEqual([
      expect.objectContaining({
        AlarmName: `${stackName}-MessagePublishFailed`,
        Namespace: 'WeChatTokenService',
        Dimensions: [{ Name: 'service', Value: 'wechat-token-service' }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      }),
    ]);
    // WeChat's quota, read once a day: the alarm fires at the share where the service itself warns.
    expect(byMetric('WechatQuotaUsedPercent')[0]).toMatchObject({
      Namespace: 'WeChatTokenService',
      Statistic: 'Maximum',
      Threshold: QUOTA_WARN_SHARE * 100,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(byMetric('TicketAgeSeconds')[0]).toMatchObject({
      Statistic: 'Maximum',
      Threshold: 1800,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
    });
    expect(byMetric('ApproximateNumberOfMessagesVisible')[0]).toMatchObject({
      Namespace: 'AWS/SQS',
      Threshold: 1,
    });
    const failures = alarms.find((a) => a.Metrics);
    expect(JSON.stringify(failures)).toContain('ComponentRefreshFailed');
    expect(JSON.stringify(failures)).toContain('AuthorizerRefreshFailed');
  });

  it('alarms on API 5xx and latency, throttles of every function and NAT port allocation errors', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties
    );
    const apiId = logicalIdOf('AWS::ApiGatewayV2::Api');
    const apiDimension = [{ Name: 'ApiId', Value: { Ref: apiId } }];
    expect(alarms.find((a) => a.MetricName === '5xx')).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      Dimensions: apiDimension,
      Statistic: 'Sum',
    });
    expect(alarms.find((a) => a.MetricName === 'Latency')).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      Dimensions: apiDimension,
      ExtendedStatistic: 'p99',
      Threshold: 4000,
    });
    const throttles = alarms.filter((a) => a.MetricName === 'Throttles');
    expect(throttles.map((a) => a.Dimensions[0].Value.Ref).sort()).toEqual(
      FUNCTION_IDS.map((id) => functionLogicalId(template, id)).sort()
    );
    for (const alarm of throttles) {
      expect(alarm).toMatchObject({
        Namespace: 'AWS/Lambda',
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
    expect(alarms.filter((a) => a.MetricName === 'ErrorPortAllocation')).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/NATGateway',
        Dimensions: [{ Name: 'NatGatewayId', Value: { Ref: logicalIdOf('AWS::EC2::NatGateway') } }],
        Threshold: 1,
      }),
    ]);
  });

  it('alarms on get-token’s p99 duration', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties
    );
    expect(alarms.filter((a) => a.MetricName === 'Duration')).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        Dimensions: [
          { Name: 'FunctionName', Value: { Ref: functionLogicalId(template, 'GetToken') } },
        ],
        ExtendedStatistic: 'p99',
        Threshold: 3000,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    ]);
  });

  /** The metric-math alarm whose metrics include `metricName`, with its metrics by id. */
  const mathAlarm = (metricName: string) => {
    const alarm = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .map((a) => a.Properties)
      .find((a) =>
        (a.Metrics ?? []).some(
          (m: { MetricStat?: { Metric: { MetricName: string } } }) =>
            m.MetricStat?.Metric.MetricName === metricName
        )
      );
    expect(alarm, metricName).toBeDefined();
    const metrics = alarm.Metrics as {
      Id: string;
      Expression?: string;
      ReturnData?: boolean;
      MetricStat?: {
        Metric: { Namespace: string; MetricName: string; Dimensions?: unknown[] };
        Stat: string;
      };
    }[];
    return { alarm, metrics, expression: metrics.find((m) => m.Expression)!.Expression! };
  };

  it('alarms on DynamoDB throttling of the table and of its due index, reads and writes', () => {
    const { alarm, metrics, expression } = mathAlarm('WriteThrottleEvents');
    const table = { Name: 'TableName', Value: { Ref: tableId() } };
    const index = { Name: 'GlobalSecondaryIndexName', Value: TABLE_SCHEMA.dueIndex.name };
    const stats = metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat!);
    expect(
      stats.map((m) => [m.Metric.MetricName, m.Metric.Dimensions?.length, m.Stat]).sort()
    ).toEqual([
      ['ReadThrottleEvents', 1, 'Sum'],
      ['ReadThrottleEvents', 2, 'Sum'],
      ['WriteThrottleEvents', 1, 'Sum'],
      ['WriteThrottleEvents', 2, 'Sum'],
    ]);
    for (const m of stats) {
      expect(m.Metric.Namespace).toBe('AWS/DynamoDB');
      expect(m.Metric.Dimensions).toEqual(
        m.Metric.Dimensions!.length === 1 ? [table] : expect.arrayContaining([table, index])
      );
    }
    // Every metric is summed in, a missing one as 0.
    for (const m of metrics.filter((x) => x.MetricStat))
      expect(expression).toContain(`FILL(${m.Id}, 0)`);
    expect(alarm).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('alarms when the account’s claimed Lambda concurrency nears its quota, whatever the quota is', () => {
    const { alarm, metrics, expression } = mathAlarm('ClaimedAccountConcurrency');
    const byName = Object.fromEntries(
      metrics.filter((m) => m.MetricStat).map((m) => [m.MetricStat!.Metric.MetricName, m])
    );
    expect(Object.keys(byName).sort()).toEqual([
      'ClaimedAccountConcurrency',
      'ConcurrentExecutions',
    ]);
    for (const m of Object.values(byName)) {
      expect(m.MetricStat).toMatchObject({ Metric: { Namespace: 'AWS/Lambda' }, Stat: 'Maximum' });
      expect(m.MetricStat!.Metric.Dimensions).toBeUndefined();
    }
    expect(expression).toBe(
      `100 * ${byName.ClaimedAccountConcurrency!.Id} / SERVICE_QUOTA(${byName.ConcurrentExecutions!.Id})`
    );
    expect(alarm).toMatchObject({ Threshold: 80, ComparisonOperator: 'GreaterThanThreshold' });
  });

  it('sends every alarm and its recovery to one topic that exists without alarmEmail', () => {
    const topicId = logicalIdOf('AWS::SNS::Topic');
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    template.hasOutput('AlarmTopicArn', { Value: { Ref: topicId } });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(FUNCTION_IDS.length * 2 + 15);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }]);
    }
  });

  it('lets CloudWatch deliver every action of every alarm: the topic policy allows this stack’s alarms', () => {
    const json = template.toJSON();
    const counts = alarmActionCounts(json);
    expect(Object.keys(counts)).toHaveLength(FUNCTION_IDS.length * 2 + 15);
    for (const [alarm, n] of Object.entries(counts)) expect(n, alarm).toBe(2);
    expect(undeliverableAlarmActions(json, stackName)).toEqual([]);
  });

  it('keeps the alarm topic SSL-only and grants CloudWatch nothing but Publish, for this account', () => {
    const topicId = logicalIdOf('AWS::SNS::Topic');
    const policies = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
    expect(policies).toHaveLength(1);
    const statements = policies[0]!.Properties.PolicyDocument.Statement;
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Deny',
          Principal: '*',
          Action: 'sns:Publish',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
        {
          Sid: 'AllowThisStacksAlarmsToPublish',
          Effect: 'Allow',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: 'sns:Publish',
          Resource: { Ref: topicId },
          Condition: {
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            ArnLike: {
              'aws:SourceArn': {
                'Fn::Join': [
                  '',
                  [
                    'arn:',
                    { Ref: 'AWS::Partition' },
                    ':cloudwatch:',
                    { Ref: 'AWS::Region' },
                    ':',
                    { Ref: 'AWS::AccountId' },
                    `:alarm:${stackName}-*`,
                  ],
                ],
              },
            },
          },
        },
      ])
    );
    expect(statements).toHaveLength(2);
    // The topic stays unencrypted: CloudWatch cannot use the AWS-managed SNS key.
    expect(template.findResources('AWS::SNS::Topic')[topicId]!.Properties).not.toHaveProperty(
      'KmsMasterKeyId'
    );
  });

  it('prices exactly the alarm metrics the stack creates in the deploy guide’s monthly cost', () => {
    const metrics = Object.values(template.findResources('AWS::CloudWatch::Alarm')).reduce(
      (n, a) =>
        n +
        (a.Properties.MetricName
          ? 1
          : (a.Properties.Metrics as { MetricStat?: unknown }[]).filter((m) => m.MetricStat)
              .length),
      0
    );
    const line = docSection('docs/deploy.md', '## Monthly cost').find((l) =>
      l.includes('CloudWatch alarms:')
    );
    const [, count, price] =
      /CloudWatch alarms: (\d+) alarm metrics × \$0\.10.*\| \$(\d+\.\d\d) \|/.exec(line ?? '')!;
    expect(Number(count)).toBe(metrics);
    expect(Number(price)).toBeCloseTo(metrics * 0.1, 2);
  });

  it('says in every alarm what to do first, and the operations guide has a runbook section for each alarm', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties
    );
    const runbook = runbookSections();
    for (const alarm of alarms) {
      const id = (alarm.AlarmName as string).replace(`${stackName}-`, '');
      expect(alarm.AlarmDescription, id).toMatch(/First: .+\. Runbook: docs\/operations\.md/);
      expect(runbook, id).toContain(id);
    }
  });

  it('passes the cdk-nag AWS Solutions and Serverless checks with every remaining finding acknowledged', () => {
    expect(violations).toEqual([]);
  });
});
