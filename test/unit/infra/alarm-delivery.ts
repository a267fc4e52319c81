/**
 * Can CloudWatch deliver every alarm action of a synthesized template? For each AWS::CloudWatch::Alarm, each
 * ARN in AlarmActions, OKActions and InsufficientDataActions is followed to its AWS::SNS::Topic, and the
 * request CloudWatch makes when the alarm changes state (service principal `cloudwatch.amazonaws.com`,
 * `sns:Publish` on the topic, with `aws:SourceAccount` and `aws:SourceArn` = the alarm's ARN) is evaluated
 * against the topic's policy, then, for a topic encrypted with a KMS key, `kms:Decrypt` and
 * `kms:GenerateDataKey` against the key's policy.
 *
 * Evaluation follows IAM's rules for one resource-based policy: an explicit Deny wins, else an Allow is
 * needed, else the request is refused (a topic policy replaces SNS's default one; without a topic policy the
 * default one, as SNS documents it, applies). Intrinsics are rendered for a concrete deployment
 * ({@link DeliveryEnvironment}), once per environment, so an ARN built by hand for one partition or one
 * account fails in another. What the checker cannot evaluate (an action outside the template, NotPrincipal, an
 * unknown condition operator) is reported, never assumed to work.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 */

type Json = unknown;
interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
}
interface Template {
  Resources?: Record<string, Resource>;
}
interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: Json;
  NotPrincipal?: Json;
  Action?: Json;
  NotAction?: Json;
  Resource?: Json;
  NotResource?: Json;
  Condition?: Record<string, Record<string, Json>>;
}

/** Where the template is imagined deployed: the values of the pseudo parameters. */
export interface DeliveryEnvironment {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  readonly stackName: string;
}

/** One deployment in each commercial and China partition: ARNs built by hand for one of them fail. */
export const DELIVERY_ENVIRONMENTS: readonly Omit<DeliveryEnvironment, 'stackName'>[] = [
  { partition: 'aws', region: 'ap-east-1', accountId: '123456789012' },
  { partition: 'aws-cn', region: 'cn-north-1', accountId: '210987654321' },
];

const CLOUDWATCH = 'cloudwatch.amazonaws.com';
const ACTION_KEYS = ['AlarmActions', 'OKActions', 'InsufficientDataActions'] as const;

class Unresolvable extends Error {}

const asArray = (value: Json): Json[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Renders an intrinsic to the string it would be in `env`. */
function render(value: Json, template: Template, env: DeliveryEnvironment): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const v = value as Record<string, Json>;
  const resources = template.Resources ?? {};
  if (typeof v.Ref === 'string') {
    const pseudo: Record<string, string> = {
      'AWS::Partition': env.partition,
      'AWS::Region': env.region,
      'AWS::AccountId': env.accountId,
      'AWS::StackName': env.stackName,
      'AWS::URLSuffix': env.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com',
    };
    if (v.Ref in pseudo) return pseudo[v.Ref]!;
    const target = resources[v.Ref];
    if (target?.Type === 'AWS::SNS::Topic') return topicArn(v.Ref, env);
    if (target?.Type === 'AWS::KMS::Key') return v.Ref;
    throw new Unresolvable(`Ref ${v.Ref}`);
  }
  if (Array.isArray(v['Fn::GetAtt'])) {
    const [id, attribute] = v['Fn::GetAtt'] as [string, string];
    if (resources[id]?.Type === 'AWS::KMS::Key' && attribute === 'Arn') return keyArn(id, env);
    if (resources[id]?.Type === 'AWS::SNS::Topic' && attribute === 'TopicArn')
      return topicArn(id, env);
    throw new Unresolvable(`Fn::GetAtt ${id}.${attribute}`);
  }
  if (Array.isArray(v['Fn::Join'])) {
    const [separator, parts] = v['Fn::Join'] as [string, Json[]];
    return parts.map((part) => render(part, template, env)).join(separator);
  }
  throw new Unresolvable(JSON.stringify(value));
}

const topicArn = (id: string, env: DeliveryEnvironment) =>
  `arn:${env.partition}:sns:${env.region}:${env.accountId}:${env.stackName}-${id}`;
const keyArn = (id: string, env: DeliveryEnvironment) =>
  `arn:${env.partition}:kms:${env.region}:${env.accountId}:key/${id}`;

/** IAM's string wildcards: `*` any run of characters, `?` one character; case-sensitive unless told. */
function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}

/** ArnLike: each of the six colon-separated parts is matched on its own (the last keeps its colons). */
function arnMatch(pattern: string, value: string): boolean {
  const split = (arn: string) => {
    const parts = arn.split(':');
    return parts.length < 6 ? undefined : [...parts.slice(0, 5), parts.slice(5).join(':')];
  };
  const p = split(pattern);
  const a = split(value);
  if (!p || !a) return false;
  return p.every((part, i) => globMatch(part, a[i]!));
}

/** The request a state change makes, as the policies see it. */
interface Request {
  readonly principalService: string;
  readonly action: string;
  readonly resource: string;
  /** Condition keys, lower-cased. */
  readonly context: Readonly<Record<string, string>>;
}

type Verdict = 'matches' | 'no-match' | { unknown: string };

function conditionHolds(
  operator: string,
  key: string,
  values: string[],
  request: Request
): boolean | { unknown: string } {
  const ifExists = operator.endsWith('IfExists');
  const base = ifExists ? operator.slice(0, -'IfExists'.length) : operator;
  const actual = request.context[key.toLowerCase()];
  if (base === 'Null') {
    const wantMissing = values.some((v) => v === 'true');
    return wantMissing ? actual === undefined : actual !== undefined;
  }
  const known = /^(String(Not)?Equals(IgnoreCase)?|String(Not)?Like|Arn(Not)?(Equals|Like)|Bool)$/;
  if (!known.test(base)) return { unknown: `condition operator ${operator}` };
  const negated = /Not/.test(base);
  // IAM: a missing key makes a condition false, except a negated one (true); IfExists makes it true.
  if (actual === undefined) return ifExists || negated;
  const any = (test: (pattern: string) => boolean) => values.some(test);
  switch (base) {
    case 'StringEquals':
      return any((v) => v === actual);
    case 'StringNotEquals':
      return !any((v) => v === actual);
    case 'StringEqualsIgnoreCase':
      return any((v) => v.toLowerCase() === actual.toLowerCase());
    case 'StringNotEqualsIgnoreCase':
      return !any((v) => v.toLowerCase() === actual.toLowerCase());
    case 'StringLike':
      return any((v) => globMatch(v, actual));
    case 'StringNotLike':
      return !any((v) => globMatch(v, actual));
    case 'ArnEquals':
    case 'ArnLike':
      return any((v) => arnMatch(v, actual));
    case 'ArnNotEquals':
    case 'ArnNotLike':
      return !any((v) => arnMatch(v, actual));
    case 'Bool':
      return any((v) => v.toLowerCase() === actual.toLowerCase());
    default:
      return { unknown: `condition operator ${operator}` };
  }
}

function principalMatches(principal: Json, service: string): boolean {
  if (principal === '*') return true;
  const p = principal as Record<string, Json> | undefined;
  if (!p || typeof p !== 'object') return false;
  if (asArray(p.AWS).includes('*')) return true;
  return asArray(p.Service).includes(service);
}

/** Does `statement` apply to `request`? */
function statementApplies(
  statement: Statement,
  request: Request,
  template: Template,
  env: DeliveryEnvironment
): Verdict {
  if (statement.NotPrincipal !== undefined) return { unknown: 'NotPrincipal' };
  if (!principalMatches(statement.Principal, request.principalService)) return 'no-match';
  const actionMatches = (patterns: Json) =>
    asArray(patterns).some((p) => globMatch(String(p), request.action, true));
  if (statement.NotAction !== undefined) {
    if (actionMatches(statement.NotAction)) return 'no-match';
  } else if (!actionMatches(statement.Action)) return 'no-match';
  try {
    const resourceMatches = (patterns: Json) =>
      asArray(patterns).some((p) => globMatch(render(p, template, env), request.resource));
    if (statement.NotResource !== undefined) {
      if (resourceMatches(statement.NotResource)) return 'no-match';
    } else if (!resourceMatches(statement.Resource)) return 'no-match';
    for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
      for (const [key, expected] of Object.entries(block)) {
        const values = asArray(expected).map((v) => render(v, template, env));
        const holds = conditionHolds(operator, key, values, request);
        if (typeof holds === 'object') return holds;
        if (!holds) return 'no-match';
      }
    }
  } catch (error) {
    if (error instanceof Unresolvable) return { unknown: `unresolvable ${error.message}` };
    throw error;
  }
  return 'matches';
}

/** `undefined` when `statements` allow `request`, else why not. */
function refusal(
  statements: Statement[],
  request: Request,
  template: Template,
  env: DeliveryEnvironment,
  policyName: string
): string | undefined {
  let allowed = false;
  for (const statement of statements) {
    const verdict = statementApplies(statement, request, template, env);
    const name = statement.Sid ? `statement ${statement.Sid}` : 'a statement';
    if (typeof verdict === 'object') {
      // An Allow that cannot be evaluated proves nothing; a Deny that cannot be might refuse.
      if (statement.Effect === 'Deny') {
        return `${policyName}: cannot evaluate Deny ${name} (${verdict.unknown})`;
      }
      continue;
    }
    if (verdict === 'matches' && statement.Effect === 'Deny') {
      return `${policyName}: ${name} denies ${request.action} to ${request.principalService}`;
    }
    if (verdict === 'matches' && statement.Effect === 'Allow') allowed = true;
  }
  return allowed
    ? undefined
    : `${policyName}: no statement allows ${request.action} to ${request.principalService}`;
}

/** SNS's default topic policy (SNS, "Example cases for Amazon SNS access control"): the owner account only. */
function defaultTopicPolicy(topicId: string): Statement[] {
  return [
    {
      Sid: '__default_statement_ID',
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: ['SNS:Publish', 'SNS:Subscribe', 'SNS:GetTopicAttributes'],
      Resource: { Ref: topicId },
      Condition: { StringEquals: { 'AWS:SourceOwner': { Ref: 'AWS::AccountId' } } },
    },
  ];
}

/** The one effective policy of a topic, or why it cannot be told. */
function topicPolicy(template: Template, topicId: string): Statement[] | string {
  const policies = Object.entries(template.Resources ?? {}).filter(
    ([, r]) =>
      r.Type === 'AWS::SNS::TopicPolicy' &&
      asArray(r.Properties?.Topics).some((t) => (t as { Ref?: string }).Ref === topicId)
  );
  if (policies.length === 0) return defaultTopicPolicy(topicId);
  if (policies.length > 1) {
    return `topic ${topicId} has ${policies.length} topic policies (${policies.map(([id]) => id).join(', ')}): SNS keeps only one`;
  }
  const document = policies[0]![1].Properties?.PolicyDocument as { Statement?: Json } | undefined;
  return asArray(document?.Statement) as Statement[];
}

/** Why CloudWatch could not use the topic's key, if it could not. */
function keyRefusal(
  template: Template,
  topicId: string,
  context: Record<string, string>,
  env: DeliveryEnvironment
): string | undefined {
  const key = template.Resources?.[topicId]?.Properties?.KmsMasterKeyId;
  if (key === undefined) return undefined;
  if (typeof key === 'string') {
    if (/alias\/aws\/sns$/.test(key)) {
      return `topic ${topicId} is encrypted with the AWS-managed key alias/aws/sns, whose policy CloudWatch cannot be granted`;
    }
    return `topic ${topicId} is encrypted with ${key}, a key outside the template: its policy cannot be checked`;
  }
  const k = key as Record<string, Json>;
  const keyId =
    (k.Ref as string | undefined) ?? (k['Fn::GetAtt'] as string[] | undefined)?.[0] ?? undefined;
  const keyResource = keyId ? template.Resources?.[keyId] : undefined;
  if (!keyId || keyResource?.Type !== 'AWS::KMS::Key') {
    return `topic ${topicId} is encrypted with ${JSON.stringify(key)}, not a key of this template`;
  }
  const statements = asArray(
    (keyResource.Properties?.KeyPolicy as { Statement?: Json } | undefined)?.Statement
  ) as Statement[];
  for (const action of ['kms:Decrypt', 'kms:GenerateDataKey']) {
    const why = refusal(
      statements,
      { principalService: CLOUDWATCH, action, resource: keyArn(keyId, env), context },
      template,
      env,
      `key policy of ${keyId}`
    );
    if (why) return why;
  }
  return undefined;
}

/**
 * An EC2 action (`arn:<partition>:automate:<region>:ec2:recover|reboot`) of this environment: CloudWatch runs
 * it itself, no resource policy is involved; one built for another partition or region is not.
 *
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/UsingAlarmActions.html
 */
function isEc2Action(action: Json, template: Template, env: DeliveryEnvironment): boolean {
  try {
    const arn = render(action, template, env);
    return (
      arn === `arn:${env.partition}:automate:${env.region}:ec2:recover` ||
      arn === `arn:${env.partition}:automate:${env.region}:ec2:reboot`
    );
  } catch (error) {
    if (error instanceof Unresolvable) return false;
    throw error;
  }
}

/** Alarm ids (logical ids) and how many actions each has. */
export function alarmActionCounts(template: Json): Record<string, number> {
  const resources = (template as Template).Resources ?? {};
  return Object.fromEntries(
    Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
      .map(([id, r]) => [
        id,
        ACTION_KEYS.reduce((n, key) => n + asArray(r.Properties?.[key]).length, 0),
      ])
  );
}

/**
 * Every alarm action that CloudWatch could not deliver, as `<alarm> <ActionsKey>[i] in <partition>: <why>`;
 * empty when every action of every alarm is delivered in every environment. An alarm without an
 * AlarmAction is reported too: nobody would hear of it.
 */
export function undeliverableAlarmActions(
  template: Json,
  stackName: string,
  environments = DELIVERY_ENVIRONMENTS
): string[] {
  const t = template as Template;
  const problems: string[] = [];
  for (const [alarmId, alarm] of Object.entries(t.Resources ?? {})) {
    if (alarm.Type !== 'AWS::CloudWatch::Alarm') continue;
    const props = alarm.Properties ?? {};
    if (asArray(props.AlarmActions).length === 0) problems.push(`${alarmId}: no AlarmActions`);
    // CloudFormation names an unnamed alarm `<stack>-<logical id>-<random>`.
    const alarmName =
      typeof props.AlarmName === 'string' ? props.AlarmName : `${stackName}-${alarmId}-GENERATED`;
    for (const partial of environments) {
      const env = { ...partial, stackName };
      const context = {
        'aws:sourceaccount': env.accountId,
        'aws:sourcearn': `arn:${env.partition}:cloudwatch:${env.region}:${env.accountId}:alarm:${alarmName}`,
        'aws:sourceowner': env.accountId,
        'aws:securetransport': 'true',
      };
      for (const key of ACTION_KEYS) {
        asArray(props[key]).forEach((action, i) => {
          const where = `${alarmId} ${key}[${i}] in ${env.partition}`;
          const topicId = (action as { Ref?: string }).Ref;
          if (!topicId && isEc2Action(action, t, env)) return;
          if (!topicId || t.Resources?.[topicId]?.Type !== 'AWS::SNS::Topic') {
            problems.push(
              `${where}: ${JSON.stringify(action)} is not an SNS topic of this template`
            );
            return;
          }
          const policy = topicPolicy(t, topicId);
          const why =
            typeof policy === 'string'
              ? policy
              : (refusal(
                  policy,
                  {
                    principalService: CLOUDWATCH,
                    action: 'sns:Publish',
                    resource: topicArn(topicId, env),
                    context,
                  },
                  t,
                  env,
                  `policy of topic ${topicId}`
                ) ?? keyRefusal(t, topicId, context, env));
          if (why) problems.push(`${where}: ${why}`);
        });
      }
    }
  }
  return problems;
}
