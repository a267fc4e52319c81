import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import type { ServiceKey } from './service-key';

/** Properties of {@link TokenTable}. */
export interface TokenTableProps {
  /**
   * Use this existing table instead of creating one: the table a destroyed stack retained (it has the keys,
   * the `due` index and the TTL below). The stack then grants access to it and never changes or deletes it.
   * @default - a table is created
   */
  readonly existingTableName?: string;
  /**
   * What CloudFormation does with a created table when it leaves the stack. Tokens, refresh tokens and
   * authorizer records cannot be recreated without every merchant authorizing again, so it is kept, except
   * when the deploy that created it fails (an empty table must not be left behind).
   * @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Refuse DeleteTable calls. Off by default because CloudFormation cannot override it: a failed first deploy
   * could then not roll back and would leave the stack in ROLLBACK_FAILED. The removal policy already keeps
   * the table through `cdk destroy`, and point-in-time recovery covers deletes by hand.
   * @default false
   */
  readonly deletionProtection?: boolean;
  /**
   * Encrypt a created table with this customer-managed key (its index and point-in-time backups too); the
   * functions bound to the table are then allowed to use it through DynamoDB. With
   * {@link existingTableName}, name the key that table already uses.
   * @default - the AWS-managed key
   */
  readonly encryptionKey?: ServiceKey;
}

/**
 * The single DynamoDB table of the service: tickets, component token, authorizers and auth codes, keyed by
 * `pk`, with the sparse `due` index the refresh schedule queries (architecture.md §2).
 *
 * The key names are written here literally and must equal `TABLE_SCHEMA` in `shared/store/table-schema.ts`
 * (infra imports no runtime code; `test/unit/infra` checks that both agree). On-demand billing, point-in-time
 * recovery and encryption (AWS-managed, or the customer-managed key given) are always on.
 *
 * The `due` index projects ALL attributes: the sweep refreshes from the index item itself (one read per due
 * authorizer). KEYS_ONLY would save one index write per lease claim but cost one GetItem per due authorizer;
 * the docs/deploy.md ("Monthly cost") gives the numbers.
 */
export class TokenTable extends Construct {
  /** Name of the GSI listing active authorizers by `refreshAt`. */
  static readonly DUE_INDEX_NAME = 'due';

  readonly table: dynamodb.ITable;
  /** ARN of the `due` index, for a Query grant that does not reach other indexes. */
  readonly dueIndexArn: string;
  /** True when the table was imported by name. */
  readonly imported: boolean;
  /** The customer-managed key of the table, if any: its users must be allowed it through DynamoDB. */
  readonly encryptionKey?: ServiceKey;

  constructor(scope: Construct, id: string, props: TokenTableProps = {}) {
    super(scope, id);
    this.encryptionKey = props.encryptionKey;
    if (props.existingTableName) {
      this.table = dynamodb.Table.fromTableName(this, 'Table', props.existingTableName);
      this.imported = true;
    } else {
      const table = new dynamodb.Table(this, 'Table', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(props.encryptionKey
          ? {
              encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
              encryptionKey: props.encryptionKey.key,
            }
          : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
        timeToLiveAttribute: 'ttl',
        deletionProtection: props.deletionProtection ?? false,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      });
      table.addGlobalSecondaryIndex({
        indexName: TokenTable.DUE_INDEX_NAME,
        partitionKey: { name: 'dueKey', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'refreshAt', type: dynamodb.AttributeType.NUMBER },
        projectionType: dynamodb.ProjectionType.ALL,
      });
      this.table = table;
      this.imported = false;
    }
    this.dueIndexArn = `${this.table.tableArn}/index/${TokenTable.DUE_INDEX_NAME}`;
  }
}
