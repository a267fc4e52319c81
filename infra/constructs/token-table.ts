import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

/** Properties of {@link TokenTable}. */
export interface TokenTableProps {
  /**
   * What CloudFormation does with the table when it leaves the stack. Tokens, refresh tokens and
   * authorizer records cannot be recreated without every merchant authorizing again, hence RETAIN.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Refuse DeleteTable calls (console, CLI, a replacement by CloudFormation).
   * @default true
   */
  readonly deletionProtection?: boolean;
}

/**
 * The single DynamoDB table of the service: tickets, component token, authorizers and auth codes, keyed by
 * `pk`, with the sparse `due` index the refresh schedule queries (architecture.md §2).
 *
 * The key names are written here literally and must equal `TABLE_SCHEMA` in `shared/store/table-schema.ts`
 * (infra imports no runtime code; `test/unit/infra` checks that both agree). On-demand billing, point-in-time
 * recovery and AWS-managed encryption are always on.
 */
export class TokenTable extends Construct {
  /** Name of the GSI listing active authorizers by `refreshAt`. */
  static readonly DUE_INDEX_NAME = 'due';

  readonly table: dynamodb.Table;
  /** ARN of the `due` index, for a Query grant that does not reach other indexes. */
  readonly dueIndexArn: string;

  constructor(scope: Construct, id: string, props: TokenTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: 'ttl',
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TokenTable.DUE_INDEX_NAME,
      partitionKey: { name: 'dueKey', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'refreshAt', type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.dueIndexArn = `${this.table.tableArn}/index/${TokenTable.DUE_INDEX_NAME}`;
  }
}
