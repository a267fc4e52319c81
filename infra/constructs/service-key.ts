import { Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** The services through which the service's roles use the key (the `kms:ViaService` condition). */
export type KeyService = 'dynamodb' | 'secretsmanager' | 'sqs';

/**
 * What each service asks KMS for on the caller's behalf. DynamoDB decrypts the table key as the caller (and
 * caches it for that caller for 5 minutes); Secrets Manager decrypts each secret read; SQS generates and
 * reads the data keys of an encrypted queue for its producers.
 *
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html
 * @see https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
 */
const SERVICE_ACTIONS: Record<KeyService, readonly string[]> = {
  dynamodb: [
    'kms:Decrypt',
    'kms:Encrypt',
    'kms:GenerateDataKey',
    'kms:GenerateDataKeyWithoutPlaintext',
    'kms:ReEncryptFrom',
    'kms:ReEncryptTo',
    'kms:DescribeKey',
  ],
  secretsmanager: ['kms:Decrypt'],
  sqs: ['kms:GenerateDataKey', 'kms:Decrypt'],
};

/** The key policy's Sid of each service's use statement. */
const USE_SID: Record<KeyService, string> = {
  dynamodb: 'UseThroughDynamoDb',
  secretsmanager: 'UseThroughSecretsManager',
  sqs: 'UseThroughSqs',
};

/** The condition that limits a use of the key to requests `service` makes for this account. */
const viaService = (service: string) => ({
  'kms:ViaService': `${service}.${Aws.REGION}.${Aws.URL_SUFFIX}`,
  'kms:CallerAccount': Aws.ACCOUNT_ID,
});

/**
 * Managing the key without using it: no `kms:Decrypt`, `kms:Encrypt`, `kms:GenerateDataKey*`, `kms:ReEncrypt*`
 * and no `kms:CreateGrant` (a grant would let its holder decrypt). Whoever may `kms:PutKeyPolicy` can still
 * give themselves more; CloudTrail records that, and KMS refuses a policy that locks everyone out.
 */
const ADMIN_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:List*',
  'kms:PutKeyPolicy',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
  'kms:RotateKeyOnDemand',
  'kms:UpdateKeyDescription',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:RevokeGrant',
  'kms:RetireGrant',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
];

/** Properties of {@link ServiceKey}. */
export interface ServiceKeyProps {
  /**
   * Use this existing key (its ARN) instead of creating one. Its policy is its owner's: the stack then grants
   * the roles through their own policies, and `KeyPolicyStatements` (a stack output) lists what the key's
   * policy must allow.
   * @default - a key is created, with yearly rotation, and retained when the stack is deleted
   */
  readonly existingKeyArn?: string;
}

/**
 * The customer-managed KMS key of the table, both secrets, the alarm topic and the scheduler's dead-letter
 * queue (docs/deploy.md, Keys of your own). A created key's policy names who may use it and through which
 * service: each function role through DynamoDB and Secrets Manager for what it is bound to, the scheduler's
 * role through SQS, and CloudWatch for this stack's alarms. The account's IAM principals may administer it,
 * create the table and secrets with it (DynamoDB's and Secrets Manager's grants and data keys) and read the
 * dead-letter queue, but decrypt nothing else: a principal allowed `dynamodb:GetItem` on the table still
 * reads no token unless this policy names it.
 *
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html
 */
export class ServiceKey extends Construct {
  readonly key: kms.IKey;
  readonly imported: boolean;
  /** Every statement the key's policy holds (created) or must hold (imported), beyond administration. */
  readonly useStatements: iam.PolicyStatement[] = [];
  readonly #byService = new Map<KeyService, iam.PolicyStatement>();
  readonly #granted = new Set<string>();

  constructor(scope: Construct, id: string, props: ServiceKeyProps = {}) {
    super(scope, id);
    if (props.existingKeyArn) {
      this.key = kms.Key.fromKeyArn(this, 'Key', props.existingKeyArn);
      this.imported = true;
      return;
    }
    const account = new iam.AccountRootPrincipal();
    this.key = new kms.Key(this, 'Key', {
      description: `WeChat token service (${Stack.of(this).stackName}): table, secrets, alarms, DLQ`,
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'AdministerWithoutUse',
            principals: [account],
            actions: ADMIN_ACTIONS,
            resources: ['*'],
          }),
          new iam.PolicyStatement({
            sid: 'CreateTheTableWithIt',
            principals: [account],
            actions: ['kms:DescribeKey', 'kms:GenerateDataKey*'],
            resources: ['*'],
            conditions: { StringEquals: viaService('dynamodb') },
          }),
          new iam.PolicyStatement({
            sid: 'LetDynamoDbGrantItself',
            principals: [account],
            actions: ['kms:CreateGrant'],
            resources: ['*'],
            conditions: {
              StringEquals: viaService('dynamodb'),
              Bool: { 'kms:GrantIsForAWSResource': 'true' },
            },
          }),
          new iam.PolicyStatement({
            sid: 'PutSecretValues',
            principals: [account],
            actions: ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:DescribeKey'],
            resources: ['*'],
            conditions: { StringEquals: viaService('secretsmanager') },
          }),
          new iam.PolicyStatement({
            sid: 'ReadTheDeadLetterQueue',
            principals: [account],
            actions: ['kms:Decrypt'],
            resources: ['*'],
            conditions: { StringEquals: viaService('sqs') },
          }),
        ],
      }),
    });
    this.imported = false;
  }

  /**
   * Lets `role` use the key through `service` only, with what that service asks KMS for: in the created
   * key's policy, or in the role's own policy for an imported key.
   */
  allowThrough(role: iam.IRole, service: KeyService): void {
    const grantKey = `${service}|${role.node.path}`;
    if (this.#granted.has(grantKey)) return;
    this.#granted.add(grantKey);
    const conditions = { StringEquals: viaService(service) };
    if (this.imported) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [...SERVICE_ACTIONS[service]],
          resources: [this.key.keyArn],
          conditions,
        })
      );
    }
    let statement = this.#byService.get(service);
    if (!statement) {
      statement = new iam.PolicyStatement({
        sid: USE_SID[service],
        actions: [...SERVICE_ACTIONS[service]],
        resources: ['*'],
        conditions,
      });
      this.#byService.set(service, statement);
      this.#addUse(statement);
    }
    statement.addPrincipals(new iam.ArnPrincipal(role.roleArn));
  }

  /** Adds a use statement (e.g. for a service principal) to the created key's policy. */
  allowService(statement: iam.PolicyStatement): void {
    this.#addUse(statement);
  }

  #addUse(statement: iam.PolicyStatement): void {
    this.useStatements.push(statement);
    if (!this.imported) this.key.addToResourcePolicy(statement);
  }
}
