import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, SERVICE_NAME } from './telemetry';

/** Properties of {@link ServiceAlarms}. */
export interface ServiceAlarmsProps {
  /** The scheduled refresh function; its Errors metric means a systemic failure (61004, bad credentials). */
  readonly refreshFunction: lambda.IFunction;
  /** The refresh schedule's dead-letter queue; a message there means a refresh run never happened. */
  readonly deadLetterQueue: sqs.IQueue;
  /**
   * Subscribe this address to an SNS topic that receives every alarm and its recovery.
   * @default - no topic; alarms have no actions (wire them to your own paging)
   */
  readonly alarmEmail?: string;
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
}

/**
 * The service's alarms, on the runtime's EMF metrics (namespace `WeChatTokenService`, dimension
 * `service=wechat-token-service`) and on AWS metrics. Each alarm's description says what it means and what
 * to do first. With `alarmEmail`, an SNS topic notifies on ALARM and OK.
 */
export class ServiceAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly topic?: sns.Topic;

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
    const fiveMinutes = Duration.minutes(5);
    const fifteenMinutes = Duration.minutes(15);
    const atLeastOnce = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };

    this.add('RefreshErrors', {
      ...atLeastOnce,
      metric: props.refreshFunction.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
      alarmDescription:
        'The refresh run failed as a whole (systemic: IP not whitelisted, bad component credentials, ' +
        'config). First: read the refresh log group for the error code.',
    });
    this.add('RefreshFailures', {
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(component, 0) + FILL(authorizer, 0)',
        usingMetrics: {
          component: serviceMetric(METRIC.componentRefreshFailed, 'Sum', fifteenMinutes),
          authorizer: serviceMetric(METRIC.authorizerRefreshFailed, 'Sum', fifteenMinutes),
        },
        label: 'Component + authorizer refresh failures',
        period: fifteenMinutes,
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
      metric: serviceMetric(METRIC.whitelistRejected, 'Sum', fiveMinutes),
      alarmDescription:
        'WeChat rejected our egress IP (61004/40164). First: compare requestIP in the log with the ' +
        'EgressIp output and add it in 第三方平台 → 开发资料 → 白名单.',
    });
    this.add('TicketStale', {
      metric: serviceMetric(METRIC.ticketAgeSeconds, 'Maximum', fifteenMinutes),
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
      metric: serviceMetric(METRIC.ticketUnavailable, 'Sum', fiveMinutes),
      alarmDescription:
        'No usable ticket (none, or older than 12 h): the component token cannot be refreshed. First: ' +
        'check that pushes reach POST /wechat/events; the service asks WeChat to re-push.',
    });
    this.add('NeedsReauthorization', {
      ...atLeastOnce,
      metric: serviceMetric(METRIC.needsReauthorization, 'Sum', fiveMinutes),
      alarmDescription:
        "A merchant's refresh token is gone for good. First: find the authorizer appid in the refresh " +
        'logs and send the merchant the authorization page again.',
    });
    this.add('DeadLetters', {
      ...atLeastOnce,
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: fiveMinutes,
        statistic: 'Maximum',
      }),
      alarmDescription:
        'EventBridge Scheduler could not invoke refresh after its retries. First: read the DLQ message ' +
        '(error code), then purge it once fixed.',
    });

    if (props.alarmEmail) {
      this.topic = new sns.Topic(this, 'Topic', {
        displayName: 'WeChat token service alarms',
        enforceSSL: true,
      });
      Validations.of(this.topic).acknowledge({
        id: 'AwsSolutions-SNS2',
        reason:
          'Carries only alarm state changes, no data. CloudWatch cannot publish to a topic encrypted with ' +
          'the AWS-managed SNS key, and a customer-managed key for alarm mail is not worth its cost here.',
      });
      this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
      const action = new SnsAction(this.topic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }

  private add(id: string, props: cloudwatch.AlarmProps): void {
    this.alarms.push(
      new cloudwatch.Alarm(this, id, { alarmName: `${Stack.of(this).stackName}-${id}`, ...props })
    );
  }
}
