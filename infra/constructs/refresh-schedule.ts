import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ServiceKey } from './service-key';

/** Properties of {@link RefreshSchedule}. */
export interface RefreshScheduleProps {
  /** The refresh function (component token, due authorizers, pending auth codes). */
  readonly target: lambda.Function;
  /**
   * How often refresh runs. Tokens live 2 h and the runtime refreshes ahead of expiry, so a missed run is
   * caught by the next one.
   * @default Duration.minutes(5)
   */
  readonly interval?: Duration;
  /**
   * How many times EventBridge Scheduler retries a failed delivery (throttling, Lambda unavailable) before
   * the event goes to the dead-letter queue.
   * @default 2
   */
  readonly retryAttempts?: number;
  /**
   * How long Scheduler keeps trying one delivery. Shorter than the interval: once the next run is due, an
   * older event is worthless.
   * @default Duration.minutes(4)
   */
  readonly maxEventAge?: Duration;
  /**
   * How often the same function reconciles the table with WeChat's authorizer list (event
   * `{"job":"reconcile"}`): imports authorizations whose code never arrived.
   * @default Duration.hours(6)
   */
  readonly reconcileInterval?: Duration;
  /**
   * Encrypt the dead-letter queue with this customer-managed key (the scheduler's role may use it through
   * SQS).
   * @default - SQS-managed encryption
   */
  readonly encryptionKey?: ServiceKey;
}

/**
 * The EventBridge Scheduler schedules of the refresh function: the sweep every 5 minutes, and the authorizer
 * reconciliation every 6 hours, with delivery retries and a dead-letter queue for events that could not be
 * delivered (a DLQ message means a run never happened).
 *
 * Scheduler invokes Lambda asynchronously, so failures *inside* refresh (e.g. 61004) do not reach the DLQ:
 * they show up as the function's Errors metric. Lambda's own async retries are switched off for the target,
 * because refresh only fails on systemic problems that an immediate rerun cannot fix, and the next scheduled
 * run is the retry.
 */
export class RefreshSchedule extends Construct {
  readonly schedule: scheduler.Schedule;
  readonly reconcileSchedule: scheduler.Schedule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: RefreshScheduleProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...(props.encryptionKey
        ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey.key }
        : { encryption: sqs.QueueEncryption.SQS_MANAGED }),
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const isTheDeadLetterQueue =
      'This queue is itself the dead-letter queue of the refresh schedule (EventBridge Scheduler ' +
      'DeadLetterConfig, which cdk-nag does not recognise as a DLQ reference): nothing consumes it, and ' +
      'the DeadLetters alarm watches it.';
    Validations.of(this.deadLetterQueue).acknowledge(
      { id: 'AwsSolutions-SQS3', reason: isTheDeadLetterQueue },
      { id: 'Serverless-SQSRedrivePolicy', reason: isTheDeadLetterQueue }
    );

    props.target.configureAsyncInvoke({ retryAttempts: 0 });
    Validations.of(props.target).acknowledge({
      id: 'Serverless-LambdaAsyncFailureDestination',
      reason:
        'A failed scheduled run is not retried (retryAttempts 0) nor kept: the next run, 5 minutes later, ' +
        'does the same work from the table, and the function’s Errors alarm fires; invocations the ' +
        'scheduler could not make go to its dead-letter queue.',
    });

    // Our own role (same trust conditions as the one LambdaInvoke would create) so the acknowledgment
    // below sits on it. LambdaInvoke grants invoke on the function and on `<arn>:*` (its versions).
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': stack.account,
            'aws:SourceArn': stack.formatArn({
              service: 'scheduler',
              resource: 'schedule-group',
              resourceName: 'default',
            }),
          },
        },
      }),
    });
    props.encryptionKey?.allowThrough(role, 'sqs');
    const functionLogicalId = stack.getLogicalId(
      props.target.node.defaultChild as lambda.CfnFunction
    );
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${functionLogicalId}.Arn>:*]`,
      reason:
        'grantInvoke also covers qualified ARNs (versions/aliases) of the refresh function; the role can ' +
        'invoke nothing else.',
    });

    const invoke = (input?: scheduler.ScheduleTargetInput) =>
      new targets.LambdaInvoke(props.target, {
        role,
        input,
        retryAttempts: props.retryAttempts ?? 2,
        maxEventAge: props.maxEventAge ?? Duration.minutes(4),
        deadLetterQueue: this.deadLetterQueue,
      });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'Refresh the component token and due authorizer tokens',
      schedule: scheduler.ScheduleExpression.rate(props.interval ?? Duration.minutes(5)),
      target: invoke(),
    });
    this.reconcileSchedule = new scheduler.Schedule(this, 'ReconcileSchedule', {
      description: "Reconcile authorizers with WeChat's api_get_authorizer_list",
      schedule: scheduler.ScheduleExpression.rate(props.reconcileInterval ?? Duration.hours(6)),
      target: invoke(scheduler.ScheduleTargetInput.fromObject({ job: 'reconcile' })),
    });
  }
}
