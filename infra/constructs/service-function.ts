import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { LAMBDA_BUNDLING } from './bundling';
import type { CredentialSecret } from './credential-secret';
import { METRICS_NAMESPACE, SERVICE_NAME } from './telemetry';
import type { TokenTable } from './token-table';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Item-level DynamoDB actions a function may be granted on the token table. */
export type TableItemAction = 'GetItem' | 'PutItem' | 'UpdateItem';

/** What a function may do with the token table: item actions, and optionally Query on the `due` index. */
export interface TableAccess {
  /** Item actions on the table itself (never DeleteItem: records are tombstoned). */
  readonly items: readonly TableItemAction[];
  /**
   * Allow Query on the `due` index only (not on the table, not on other indexes).
   * @default false
   */
  readonly queryDueIndex?: boolean;
  /**
   * Allow Scan of the table itself (not of an index): the operators' listings (`list`, `status`), which
   * read every item and are never on a request path.
   * @default false
   */
  readonly scanTable?: boolean;
}

/** Properties of {@link ServiceFunction}. */
export interface ServiceFunctionProps {
  /**
   * Handler file name under `functions/`, without extension (e.g. `'auth-event'`). This string is the only
   * link from infra to the runtime code; the file must export `handler`.
   */
  readonly entry: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** The VPC and subnets to run in; every function's WeChat traffic must leave through the NAT EIP. */
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
  /** The third-party platform appid, passed as `COMPONENT_APPID`. */
  readonly componentAppId: string;
  /**
   * Extra environment variables (never secrets: those are read from Secrets Manager).
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * Maximum run time. HTTP handlers must answer WeChat within 5 s and API Gateway gives up after 30 s.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Memory; on Lambda this also sets the CPU share, which matters for cold starts and AES.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Retention of the function's own log group.
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Log level: Lambda's application log level (JSON log format) and Powertools' `LOG_LEVEL`, always the
   * same. Powertools follows Lambda's level (`AWS_LAMBDA_LOG_LEVEL`) over `LOG_LEVEL`, and Lambda files every
   * line without a `level` field under INFO, which includes each EMF metric record: a WARN or ERROR filter
   * would drop the metrics the alarms watch, so neither is offered.
   * @default 'INFO'
   * @see https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
   */
  readonly logLevel?: 'DEBUG' | 'INFO';
  /**
   * Reserved concurrency: this many concurrent executions are set aside for the function, and it never
   * runs more. Lambda refuses a reservation that would leave the account less than 100 unreserved.
   * @default - none: the function shares the account's unreserved pool
   * @see https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * X-Ray tracing. Lambda's built-in active tracing costs no code in the bundle and no cold-start time
   * (Powertools Tracer would add ~136 KB and ~5 ms, and record return values such as tokens); get-token
   * passes through instead, since tracing every token read would cost more than it tells.
   * @default lambda.Tracing.ACTIVE
   */
  readonly tracing?: lambda.Tracing;
  /**
   * The Node.js runtime (the bundles target Node.js 22, so either runs them).
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * Why tracing is off, when it is: required with `tracing: DISABLED`, for the cdk-nag acknowledgement.
   * @default - tracing is on
   */
  readonly tracingOffReason?: string;
}

/**
 * One Lambda of the service, with the house defaults: Node.js 24 on ARM64, bundled locally by esbuild with
 * the pinned AWS SDK inside ({@link LAMBDA_BUNDLING}), running in the egress VPC's
 * private subnets, writing JSON lines (Lambda's JSON log format) to its own log group with a retention,
 * optionally with reserved concurrency, and holding a role with nothing but its
 * log group and VPC networking until {@link bindTable} and {@link bindSecret} add exactly what it needs.
 *
 * The role is built here instead of taking Lambda's defaults because the AWS-managed
 * AWSLambdaBasicExecutionRole / AWSLambdaVPCAccessExecutionRole allow writing to every log group.
 */
export class ServiceFunction extends NodejsFunction {
  /** The role; holds only this function's log group, VPC networking and what the bind methods add. */
  readonly serviceRole: iam.Role;
  /** The function's own log group. */
  readonly functionLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    const functionLogGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const serviceRole = ServiceFunction.createRole(scope, `${id}Role`, functionLogGroup);
    const logLevel = props.logLevel ?? 'INFO';
    super(scope, id, {
      entry: fileURLToPath(new URL(`../../functions/${props.entry}.ts`, import.meta.url)),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}package-lock.json`,
      description: props.description,
      runtime: props.runtime ?? lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      tracing: props.tracing ?? lambda.Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      role: serviceRole,
      logGroup: functionLogGroup,
      // Powertools writes JSON lines itself; with Lambda's JSON format its own lines (START, REPORT, an
      // uncaught error) are JSON too, and the log group above (with its retention) is still the one used.
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel[logLevel],
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [props.securityGroup],
      environment: {
        COMPONENT_APPID: props.componentAppId,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        LOG_LEVEL: logLevel,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: LAMBDA_BUNDLING,
    });
    this.serviceRole = serviceRole;
    this.functionLogGroup = functionLogGroup;
    Validations.of(this).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'A Lambda DLQ receives only failed asynchronous invocations: API Gateway and callers invoke these ' +
        'functions synchronously (the caller gets the error). Only refresh is invoked asynchronously: by ' +
        'EventBridge Scheduler, whose target dead-letter queue keeps what it could not invoke, and by ' +
        'wechat-message for the reply to WeChat’s release check, a test the developer can run again.',
    });
    if (props.runtime && props.runtime !== lambda.Runtime.NODEJS_24_X) {
      const reason =
        `The deployer named ${props.runtime.name} (context key lambdaRuntime): in the China regions ` +
        'the newest runtimes arrive later than elsewhere, and the bundles run on either.';
      Validations.of(this).acknowledge(
        { id: 'AwsSolutions-L1', reason },
        { id: 'Serverless-LambdaLatestVersion', reason }
      );
    }
    if (props.tracing === lambda.Tracing.DISABLED) {
      if (!props.tracingOffReason) throw new Error(`${id}: tracing is off without a reason`);
      Validations.of(this).acknowledge({
        id: 'Serverless-LambdaTracing',
        reason: props.tracingOffReason,
      });
    } else if (props.tracing === lambda.Tracing.PASS_THROUGH) {
      Validations.of(this).acknowledge({
        id: 'Serverless-LambdaTracing',
        reason:
          'Passes tracing through on purpose: a hot path whose every token read traced would cost more ' +
          'than it tells (docs/operations.md, Tracing).',
      });
    }
  }

  /**
   * Passes the table name as `TOKEN_TABLE_NAME` and grants exactly the listed actions, as explicit
   * statements (the `grant*Data` helpers would add Scan, DeleteItem, batch actions and `index/*`).
   */
  bindTable(table: TokenTable, access: TableAccess): this {
    this.addEnvironment('TOKEN_TABLE_NAME', table.table.tableName);
    table.encryptionKey?.allowThrough(this.serviceRole, 'dynamodb');
    this.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'TokenTableItems',
        actions: access.items.map((action) => `dynamodb:${action}`),
        resources: [table.table.tableArn],
      })
    );
    if (access.scanTable) {
      this.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'TokenTableScan',
          actions: ['dynamodb:Scan'],
          resources: [table.table.tableArn],
        })
      );
    }
    if (access.queryDueIndex) {
      this.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'TokenTableDueIndex',
          actions: ['dynamodb:Query'],
          resources: [table.dueIndexArn],
        })
      );
    }
    return this;
  }

  /**
   * Passes the secret's id in the environment variable `envName` and grants reading that secret alone. A
   * function may read only the secrets bound to it: IAM cannot narrow a grant to some keys of one secret.
   */
  bindSecret(secret: CredentialSecret, envName: string): this {
    this.addEnvironment(envName, secret.secretId);
    secret.secret.grantRead(this);
    secret.encryptionKey?.allowThrough(this.serviceRole, 'secretsmanager');
    return this;
  }

  private static createRole(scope: Construct, id: string, logGroup: logs.LogGroup): iam.Role {
    const role = new iam.Role(scope, id, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      inlinePolicies: {
        Logs: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              resources: [logGroup.logGroupArn],
            }),
          ],
        }),
        VpcNetworking: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: [
                'ec2:CreateNetworkInterface',
                'ec2:DescribeNetworkInterfaces',
                'ec2:DescribeSubnets',
                'ec2:DeleteNetworkInterface',
                'ec2:AssignPrivateIpAddresses',
                'ec2:UnassignPrivateIpAddresses',
              ],
              resources: ['*'],
            }),
          ],
        }),
      },
    });
    const vpcNetworking =
      'VPC networking for Lambda (the actions of AWSLambdaVPCAccessExecutionRole without its logs:* part): ' +
      'EC2 Describe* actions support no resource-level permissions, and Lambda creates the ENIs itself.';
    Validations.of(role).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: vpcNetworking },
      { id: 'Serverless-LambdaStarPermissions', reason: vpcNetworking }
    );
    return role;
  }
}
