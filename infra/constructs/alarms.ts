import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Ec2Action, Ec2InstanceAction, SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ServiceKey } from './service-key';
import { METRIC, METRICS_NAMESPACE, QUOTA_ALARM_PERCENT, SERVICE_NAME } from './telemetry';

/** The seven functions, by the construct id their Errors alarm is named after (`<id>Errors`). */
export interface ServiceFunctions {
  readonly AuthEvent: lambda.IFunction;
  readonly AuthorizePage: lambda.IFunction;
  readonly AuthorizeCallback: lambda.IFunction;
  readonly Refresh: lambda.IFunction;
  readonly GetToken: lambda.IFunction;
  readonly CallWeChat: lambda.IFunction;
  readonly WechatMessage: lambda.IFunction;
}

/** The token table as the alarms see it: its name and the names of its global secondary indexes. */
export interface AlarmedTable {
  readonly tableName: string;
  readonly indexNames: readonly string[];
}

/** Properties of {@link ServiceAlarms}. */
export interface ServiceAlarmsProps {
  /** Every function: each gets an Errors and a Throttles alarm; get-token also a Duration alarm. */
  readonly functions: ServiceFunctions;
  /** The token table (created or imported): throttled reads and writes of the table and its indexes. */
  readonly table: AlarmedTable;
  /** The public HTTP API: 5xx answers and latency. */
  readonly httpApi: apigwv2.IHttpApi;
  /** The NAT gateways every WeChat call leaves through: source-port exhaustion. */
  readonly natGatewayIds: readonly string[];
  /** The NAT instance (egress nat-instance): recovered on a host failure, rebooted on its own. */
  readonly natInstanceIds?: readonly string[];
  /** The refresh schedule's dead-letter queue; a message there means a refresh run never happened. */
  readonly deadLetterQueue: sqs.IQueue;
  /**
   * Subscribe this address to the alarm topic (AWS sends a confirmation mail first).
   * @default - no subscription; subscribe your own paging to the topic
   */
  readonly alarmEmail?: string;
  /**
   * Encrypt the topic with this customer-managed key; its policy then lets CloudWatch use it for this stack's
   * alarms.
   * @default - the topic is not encrypted (it carries alarm state changes only)
   */
  readonly encryptionKey?: ServiceKey;
  /**
   * Component + authorizer refresh failures (per-item, retried every run) within 15 minutes that raise the
   * alarm. One failure is usually a blip the next run fixes; several in a row are not.
   * @default 3
   */
  readonly refreshFailureThreshold?: number;
  /**
   * Age of the latest component_verify_ticket that raises the alarm. WeChat pushes one every 10 minutes,
   * so 30 minutes means at least two pushes were missed; a ticket stays usable for 12 h, which leaves time.
   * @default Duration.minutes(30)
   */
  readonly ticketMaxAge?: Duration;
  /**
   * p99 latency of the HTTP API that raises the alarm. WeChat waits 5 s for the answer to a push, and
   * retries it (or drops it) after that.
   * @default Duration.seconds(4)
   */
  readonly apiLatencyThreshold?: Duration;
  /**
   * p99 duration of get-token that raises the alarm. The stored-token path takes milliseconds; a renewal
   * waits on WeChat, and the client package gives up after 12 s (the function's 10 s timeout).
   * @default Duration.seconds(3)
   */
  readonly getTokenDurationThreshold?: Duration;
  /**
   * Share of the account's Lambda concurrency limit (in this region) that raises the alarm, in percent of
   * `ClaimedAccountConcurrency` (reserved concurrency plus unreserved executions in flight) over the
   * quota. Past 100 % every function without a reservation is throttled.
   * @default 80
   */
  readonly accountConcurrencyThreshold?: number;
}

const FIVE_MINUTES = Duration.minutes(5);
const FIFTEEN_MINUTES = Duration.minutes(15);

/** Where each alarm's description sends the reader. */
const RUNBOOK = 'Runbook: docs/operations.md → Alarms.';

/**
 * The service's alarms, on the runtime's EMF metrics (namespace `WeChatTokenService`, dimension
 * `service=wechat-token-service`) and on AWS metrics, all sending ALARM and OK to one SNS topic that always
 * exists (its ARN is the `AlarmTopicArn` output; `alarmEmail` subscribes an address). The topic's policy
 * lets CloudWatch publish for the alarms named `<stack>-…` ({@link allowAlarmPublishing}). Each alarm's
 * description says what it means and what to do first; the runbook (docs/operations.md) has a section per
 * alarm id.
 */
export class ServiceAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: ServiceAlarmsProps) {
    super(scope, id);
    const serviceMetric = (metricName: string, statistic: string, period: Duration) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: SERVICE_NAME },
        statistic,
        period,
      });
    const atLeastOnce = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };
    const { functions } = props;

    const errorAdvice: Record<keyof ServiceFunctions, string> = {
      AuthEvent:
        'WeChat pushes (tickets, authorizations) are failing before an answer: WeChat retries them, then ' +
        'gives up. First: read the auth-event log group for the error and its code (a missing or unreadable ' +
        'secret is the usual cause after a deploy).',
      AuthorizePage:
        'The authorization entry page crashed or timed out: merchants cannot start authorizing. First: read ' +
        'the authorize-page log group for the error and its code.',
      AuthorizeCallback:
        'The authorization callback crashed or timed out: the auth_code is kept and exchanged by the next ' +
        'refresh run, but the merchant saw an error. First: read the authorize-callback log group.',
      Refresh:
        'The refresh run failed as a whole (systemic: IP not whitelisted, bad component credentials, ' +
        'config, table unavailable). First: read the refresh log group for the summary line and its ' +
        'systemicError code.',
      GetToken:
        'get-token failed unhandled (callers see X-Amz-Function-Error, not a coded answer): crash, timeout ' +
        'or out of memory. First: read the get-token log group for the error.',
      CallWeChat:
        'call-wechat failed unhandled (callers see X-Amz-Function-Error, not WeChat’s answer): crash, ' +
        'timeout or out of memory (a large media answer?). First: read the call-wechat log group.',
      WechatMessage:
        'Authorizers’ messages and events are failing before an answer: WeChat retries each push, then ' +
        'drops it, and nothing reaches the bus. First: read the wechat-message log group for the error ' +
        'and its code (a missing or unreadable secret is the usual cause after a deploy).',
    };
    for (const [name, fn] of Object.entries(functions) as [
      keyof ServiceFunctions,
      lambda.IFunction,
    ][]) {
      this.add(`${name}Errors`, {
        ...atLeastOnce,
        metric: fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
        alarmDescription: errorAdvice[name],
      });
    }
    const throttleAdvice: Record<keyof ServiceFunctions, string> = {
      AuthEvent:
        'Lambda refused auth-event invocations (its publicRouteConcurrencyCap, or the account limit): ' +
        'WeChat pushes got an error answer and are retried. First: compare the Invocations and ' +
        'Throttles of auth-event with the API access log (a flood from one IP, or real load).',
      AuthorizePage:
        'Lambda refused authorize-page invocations (its publicRouteConcurrencyCap, or the account ' +
        'limit): merchants got an error page. First: check the API access log for a flood, then the cap.',
      AuthorizeCallback:
        'Lambda refused authorize-callback invocations (its publicRouteConcurrencyCap, or the account ' +
        'limit): the merchant saw an error after authorizing (the authorization still arrives by push or ' +
        'reconciliation). First: check the API access log for a flood, then the cap.',
      Refresh:
        'Lambda refused refresh invocations (refreshReservedConcurrency, or the account limit): a ' +
        'scheduled run waits in the async queue, an operator CLI call failed. First: check how many ' +
        'runs overlap (Duration near 5 min?) and the reservation.',
      GetToken:
        'Lambda refused get-token invocations (getTokenReservedConcurrency, or the account limit): ' +
        'callers got TooManyRequestsException. First: check ConcurrentExecutions of get-token and of ' +
        'the account, and whether a caller skips its token cache.',
      CallWeChat:
        'Lambda refused call-wechat invocations (the account limit): callers’ WeChat calls were not ' +
        'made. First: check ConcurrentExecutions of call-wechat and of the account.',
      WechatMessage:
        'Lambda refused wechat-message invocations (its publicRouteConcurrencyCap, or the account ' +
        'limit): WeChat pushes of messages and events got an error answer and are retried. First: ' +
        'compare the Invocations and Throttles of wechat-message with the API access log (a flood, or ' +
        'real load from the authorizers’ fans).',
    };
    for (const [name, fn] of Object.entries(functions) as [
      keyof ServiceFunctions,
      lambda.IFunction,
    ][]) {
      this.add(`${name}Throttles`, {
        ...atLeastOnce,
        metric: fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }),
        alarmDescription: throttleAdvice[name],
      });
    }
    const getTokenDuration = props.getTokenDurationThreshold ?? Duration.seconds(3);
    this.add('GetTokenDuration', {
      metric: functions.GetToken.metricDuration({ period: FIVE_MINUTES, statistic: 'p99' }),
      threshold: getTokenDuration.toMilliseconds(),
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        `p99 duration of get-token above ${getTokenDuration.toSeconds()} s in 2 of 3 periods of 5 ` +
        'minutes: callers wait on renewals (WeChat slow or timing out) or on DynamoDB. First: read the ' +
        'get-token log for WeChat operation failures and compare with TableThrottles.',
    });
    this.add('RefreshFailures', {
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(component, 0) + FILL(authorizer, 0)',
        usingMetrics: {
          component: serviceMetric(METRIC.componentRefreshFailed, 'Sum', FIFTEEN_MINUTES),
          authorizer: serviceMetric(METRIC.authorizerRefreshFailed, 'Sum', FIFTEEN_MINUTES),
        },
        label: 'Component + authorizer refresh failures',
        period: FIFTEEN_MINUTES,
      }),
      threshold: props.refreshFailureThreshold ?? 3,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'Token refreshes keep failing (component or authorizer). First: search the refresh logs for ' +
        'failed items and their WeChat errcode.',
    });
    this.add('WhitelistRejected', {
      ...atLeastOnce,
      metric: serviceMetric(METRIC.whitelistRejected, 'Sum', FIVE_MINUTES),
      alarmDescription:
        'WeChat rejected our egress IP (61004/40164). First: compare requestIp in the log with the ' +
        'EgressIps output and add it in 第三方平台 → 开发资料 → 白名单.',
    });
    this.add('TicketStale', {
      metric: serviceMetric(METRIC.ticketAgeSeconds, 'Maximum', FIFTEEN_MINUTES),
      threshold: (props.ticketMaxAge ?? Duration.minutes(30)).toSeconds(),
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // Every refresh run emits the gauge: no data means refresh is not running, which is just as bad.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      alarmDescription:
        'No fresh component_verify_ticket for 30 minutes, or refresh stopped reporting. First: check the ' +
        'auth-event logs (signature/decrypt errors?) and the event URL in the WeChat console.',
    });
    this.add('TicketUnavailable', {
      ...atLeastOnce,
      metric: serviceMetric(METRIC.ticketUnavailable, 'Sum', FIVE_MINUTES),
      alarmDescription:
        'No usable ticket (none, or older than 12 h): the component token cannot be refreshed. First: ' +
        'check that pushes reach POST /wechat/events; the service asks WeChat to re-push.',
    });
    this.add('NeedsReauthorization', {
      ...atLeastOnce,
      metric: serviceMetric(METRIC.needsReauthorization, 'Sum', FIVE_MINUTES),
      alarmDescription:
        "A merchant's refresh token is gone for good. First: find the authorizer appid in the refresh " +
        'logs and send the merchant the authorization page again.',
    });
    this.add('WechatQuotaNearLimit', {
      metric: serviceMetric(METRIC.wechatQuotaUsedPercent, 'Maximum', Duration.hours(1)),
      threshold: QUOTA_ALARM_PERCENT,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'The platform has used 80 % of a WeChat API’s daily quota (read once a day with getApiQuota): at ' +
        '100 % WeChat answers 45009 to every merchant until Beijing midnight. First: `npx wechat-token ' +
        'status` names the API, then find what calls it (a caller reporting valid tokens, a page flood, a ' +
        'loop) and consider clear_quota (10 resets a month).',
    });
    this.add('LifecycleEventsStuck', {
      metric: serviceMetric(METRIC.lifecycleEventsUnpublished, 'Sum', FIVE_MINUTES),
      threshold: 1,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'Lifecycle events have waited in the outbox for 15 minutes: every scheduled flush fails to publish ' +
        'them, so subscribers miss authorizations and revocations (none is lost; they go out once the bus ' +
        'accepts them). First: read the refresh log’s “lifecycle events not published” lines, then check ' +
        'the bus and the functions’ events:PutEvents grant.',
    });
    this.add('MessagePublishFailed', {
      ...atLeastOnce,
      metric: serviceMetric(METRIC.messagePublishFailed, 'Sum', FIVE_MINUTES),
      alarmDescription:
        'The event bus refused or did not answer an authorizer’s message or event: WeChat got a 503 and ' +
        'pushes it again (three attempts in all), then drops it: nothing keeps it on our side. First: read ' +
        'the wechat-message log for the failed publish, then check the bus and the function’s ' +
        'events:PutEvents grant.',
    });
    this.add('DeadLetters', {
      ...atLeastOnce,
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: FIVE_MINUTES,
        statistic: 'Maximum',
      }),
      alarmDescription:
        'EventBridge Scheduler could not invoke refresh after its retries. First: read the DLQ message ' +
        '(error code), then purge it once fixed.',
    });
    this.add('Api5xx', {
      metric: props.httpApi.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: 3,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'The HTTP API answered 5xx at least 3 times in 5 minutes (WeChat pushes or merchants failing). ' +
        'First: query the API access log for status >= 500 (routeKey, integrationError), then that ' +
        "route's function log.",
    });
    const latency = props.apiLatencyThreshold ?? Duration.seconds(4);
    this.add('ApiLatency', {
      metric: props.httpApi.metricLatency({ period: FIVE_MINUTES, statistic: 'p99' }),
      threshold: latency.toMilliseconds(),
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        `p99 latency of the HTTP API above ${latency.toSeconds()} s in 2 of 3 periods of 5 minutes: ` +
        'WeChat gives up on a push after 5 s. First: compare Latency with IntegrationLatency and read the ' +
        'slow route’s function log (WeChat timeouts, DynamoDB throttling, cold starts).',
    });
    const dynamo = (metricName: string, indexName?: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/DynamoDB',
        metricName,
        dimensionsMap: {
          TableName: props.table.tableName,
          ...(indexName ? { GlobalSecondaryIndexName: indexName } : {}),
        },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      });
    // The TableName dimension alone leaves out the indexes: each index is summed in by name.
    const throttleMetrics: Record<string, cloudwatch.IMetric> = {
      tableReads: dynamo('ReadThrottleEvents'),
      tableWrites: dynamo('WriteThrottleEvents'),
    };
    props.table.indexNames.forEach((indexName, i) => {
      throttleMetrics[`index${i}Reads`] = dynamo('ReadThrottleEvents', indexName);
      throttleMetrics[`index${i}Writes`] = dynamo('WriteThrottleEvents', indexName);
    });
    this.add('TableThrottles', {
      ...atLeastOnce,
      metric: new cloudwatch.MathExpression({
        expression: Object.keys(throttleMetrics)
          .map((id) => `FILL(${id}, 0)`)
          .join(' + '),
        usingMetrics: throttleMetrics,
        label: 'Throttled reads and writes of the token table and its indexes',
        period: FIVE_MINUTES,
      }),
      alarmDescription:
        'DynamoDB throttled reads or writes of the token table or its due index (the SDK retries them; ' +
        'what still fails surfaces as store_unavailable). First: open the table’s throttling metrics ' +
        'by reason (key range, on-demand maximum, account limit) and the hot keys in CloudWatch ' +
        'Contributor Insights.',
    });
    const accountConcurrency = props.accountConcurrencyThreshold ?? 80;
    const lambdaAccountMetric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName,
        statistic: 'Maximum',
        period: FIVE_MINUTES,
      });
    this.add('AccountConcurrency', {
      // SERVICE_QUOTA reads the account's applied quota, so the alarm follows a raised limit by itself.
      metric: new cloudwatch.MathExpression({
        expression: '100 * claimed / SERVICE_QUOTA(concurrent)',
        usingMetrics: {
          claimed: lambdaAccountMetric('ClaimedAccountConcurrency'),
          concurrent: lambdaAccountMetric('ConcurrentExecutions'),
        },
        label: 'Claimed Lambda concurrency, % of the account limit',
        period: FIVE_MINUTES,
      }),
      threshold: accountConcurrency,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        `The account’s Lambda concurrency in this region is over ${accountConcurrency} % claimed ` +
        '(reservations plus unreserved executions in flight): past 100 % every function without a ' +
        'reservation is throttled, whatever stack it belongs to. First: find the function whose ' +
        'ConcurrentExecutions grew, then request a higher Concurrent executions quota.',
    });
    props.natGatewayIds.forEach((natGatewayId, i) => {
      this.add(i === 0 ? 'NatPortAllocation' : `NatPortAllocation${i + 1}`, {
        ...atLeastOnce,
        metric: new cloudwatch.Metric({
          namespace: 'AWS/NATGateway',
          metricName: 'ErrorPortAllocation',
          dimensionsMap: { NatGatewayId: natGatewayId },
          statistic: 'Sum',
          period: FIVE_MINUTES,
        }),
        alarmDescription:
          'The NAT gateway could not allocate a source port: connections to WeChat fail. First: check ' +
          'ActiveConnectionCount of the NAT and whether a function leaks connections or the refresh ' +
          'concurrency was raised; a NAT allows 55 000 concurrent connections per destination.',
      });
    });

    for (const instanceId of props.natInstanceIds ?? []) {
      const statusCheck = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/EC2',
          metricName,
          dimensionsMap: { InstanceId: instanceId },
          statistic: 'Maximum',
          period: Duration.minutes(1),
        });
      // Each also repairs: EC2 runs the action itself, and the topic hears of it like of any alarm.
      this.add('NatInstanceRecovery', {
        metric: statusCheck('StatusCheckFailed_System'),
        ...atLeastOnce,
        evaluationPeriods: 2,
        alarmDescription:
          'The NAT instance’s host failed its status check: EC2 recovers the instance onto other hardware ' +
          '(same id, same Elastic IP) and this alarm clears; WeChat calls fail meanwhile, stored tokens are ' +
          'still served. First: if it stays in ALARM, stop and start the instance.',
      }).addAlarmAction(new Ec2Action(Ec2InstanceAction.RECOVER));
      this.add('NatInstanceReboot', {
        metric: statusCheck('StatusCheckFailed_Instance'),
        ...atLeastOnce,
        evaluationPeriods: 3,
        alarmDescription:
          'The NAT instance itself stopped answering its status check (kernel, network stack): it is ' +
          'rebooted. First: if it stays in ALARM, read its system log (get-console-output) and replace it ' +
          'with a deploy.',
      }).addAlarmAction(new Ec2Action(Ec2InstanceAction.REBOOT));
    }

    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'WeChat token service alarms',
      enforceSSL: true,
      masterKey: props.encryptionKey?.key,
    });
    if (!props.encryptionKey) {
      Validations.of(this.topic).acknowledge({
        id: 'AwsSolutions-SNS2',
        reason:
          'Carries only alarm state changes, no data. CloudWatch cannot publish to a topic encrypted with ' +
          'the AWS-managed SNS key; deploy with kmsKey to encrypt it with a key of your own.',
      });
    }
    Validations.of(this.topic).acknowledge({
      id: 'Serverless-SNSRedrivePolicy',
      reason:
        'Its subscription is the alarm mail: a dead-letter queue of undelivered alarm mail would be read by ' +
        'no one, and every alarm sends its state again when it changes (OK actions included).',
    });
    allowAlarmPublishing(this.topic, `${Stack.of(this).stackName}-`, props.encryptionKey);
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }

  private add(id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmName: `${Stack.of(this).stackName}-${id}`,
      ...props,
      alarmDescription: `${props.alarmDescription} ${RUNBOOK}`,
    });
    this.alarms.push(alarm);
    return alarm;
  }
}

/**
 * Lets CloudWatch alarms of this account and region whose names start with `alarmNamePrefix` publish to
 * `topic`. A topic policy replaces SNS's default one, which is what let CloudWatch publish: a topic whose
 * policy holds only the SSL-only Deny of `enforceSSL` refuses every alarm action ("no resource-based policy
 * allows the SNS:Publish action"). The grant names the service principal and carries `aws:SourceAccount`
 * and `aws:SourceArn`, so no other account's alarms can use it (the confused deputy).
 *
 * An unencrypted topic needs nothing else; for one encrypted with `key` (customer-managed: the AWS-managed
 * SNS key cannot be used at all), the key's policy also gives CloudWatch kms:Decrypt and
 * kms:GenerateDataKey*, under the same conditions.
 *
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html
 * @see https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
 */
export function allowAlarmPublishing(
  topic: sns.ITopic,
  alarmNamePrefix: string,
  key?: ServiceKey
): void {
  const stack = Stack.of(topic);
  const cloudwatchOfThisStack = {
    principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
    conditions: {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: `${alarmNamePrefix}*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    },
  };
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowThisStacksAlarmsToPublish',
      effect: iam.Effect.ALLOW,
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      ...cloudwatchOfThisStack,
    })
  );
  key?.allowService(
    new iam.PolicyStatement({
      sid: 'AllowThisStacksAlarmsToUseTheTopicKey',
      effect: iam.Effect.ALLOW,
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      ...cloudwatchOfThisStack,
    })
  );
}
