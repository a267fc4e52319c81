import { CfnOutput, CfnResource, Duration, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import { HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import type { Construct } from 'constructs';
import type { LambdaRuntimeName, StackConfig } from './config';
import { ServiceAlarms } from './constructs/alarms';
import { CredentialSecret } from './constructs/credential-secret';
import { EgressVpc } from './constructs/egress-vpc';
import { EventSchemaRegistry } from './constructs/event-schema-registry';
import { PublicHttpApi } from './constructs/http-api';
import { LifecycleEventBus } from './constructs/lifecycle-event-bus';
import { RefreshSchedule } from './constructs/refresh-schedule';
import { ServiceFunction, type ServiceFunctionProps } from './constructs/service-function';
import { ServiceKey } from './constructs/service-key';
import { TokenTable } from './constructs/token-table';

/** Properties of {@link TokenServiceStack}. */
export interface TokenServiceStackProps extends StackProps {
  /** Validated deploy-time configuration (see `infra/config.ts`). */
  readonly config: StackConfig;
}

const RUNTIMES: Record<LambdaRuntimeName, lambda.Runtime> = {
  'nodejs24.x': lambda.Runtime.NODEJS_24_X,
  'nodejs22.x': lambda.Runtime.NODEJS_22_X,
};

/**
 * Environment variables naming the two secrets. They are split by who needs them: every function may mint a
 * component token (AppSecret), only the two push receivers, auth-event and wechat-message, decrypt pushes
 * (message token and EncodingAESKey).
 */
export const SECRET_ENV = {
  component: 'COMPONENT_SECRET_ID',
  message: 'MESSAGE_SECRET_ID',
} as const;

/**
 * The whole service (architecture.md §1): token table, the two credential secrets, egress VPC, the seven
 * functions, the public HTTP routes, the refresh schedule, the lifecycle event bus and alarms. Composition
 * only; each construct documents its defaults. Construct IDs become logical IDs: never rename them.
 */
export class TokenServiceStack extends Stack {
  constructor(scope: Construct, id: string, props: TokenServiceStackProps) {
    super(scope, id, props);
    const { config } = props;

    const serviceKey = config.kmsKey
      ? new ServiceKey(this, 'ServiceKey', {
          existingKeyArn: config.kmsKey === 'create' ? undefined : config.kmsKey,
        })
      : undefined;
    const table = new TokenTable(this, 'TokenTable', {
      existingTableName: config.tokenTableName,
      encryptionKey: serviceKey,
    });
    const componentSecret = new CredentialSecret(this, 'ComponentSecret', {
      description:
        'WeChat third-party platform AppSecret: {"componentAppSecret"}. Fill with put-secret-value.',
      fields: ['componentAppSecret'],
      existingSecretName: config.componentSecretName,
      encryptionKey: serviceKey,
    });
    const messageSecret = new CredentialSecret(this, 'MessageSecret', {
      description:
        'WeChat third-party platform message crypto: {"token","encodingAesKey","previousEncodingAesKey"?}. ' +
        'Fill with put-secret-value.',
      fields: ['token', 'encodingAesKey'],
      existingSecretName: config.messageSecretName,
      encryptionKey: serviceKey,
    });
    const network = new EgressVpc(this, 'Egress', {
      egress: config.egress,
      natInstanceType: config.natInstanceType,
      natGatewayPerAz: config.natGatewayPerAz,
      eipAllocationIds: config.egressEipAllocationIds,
    });

    const common = {
      vpc: network.vpc,
      vpcSubnets: network.functionSubnets,
      securityGroup: network.functionSecurityGroup,
      componentAppId: config.componentAppId,
      runtime: RUNTIMES[config.lambdaRuntime],
    };
    const tracingOff = config.chinaRegion
      ? {
          tracing: lambda.Tracing.DISABLED,
          tracingOffReason:
            'Lambda offers no X-Ray integration in the China regions ' +
            '(https://docs.amazonaws.cn/en_us/aws/latest/userguide/lambda.html).',
        }
      : {};
    // Lets a 61004 log say whether WeChat saw our NAT's IP (whitelist missing) or another (egress drift).
    // The runtime compares with one IP, so it is passed only when there is exactly one.
    const egress: Record<string, string> =
      network.egressIps.length === 1 ? { EGRESS_IP: network.egressIps[0]! } : {};
    const pages: Record<string, string> = {
      ...(config.authorizeDomain
        ? { AUTHORIZE_REDIRECT_URI: `https://${config.authorizeDomain}/authorize/callback` }
        : {}),
      ...(config.platformDisplayName ? { PLATFORM_DISPLAY_NAME: config.platformDisplayName } : {}),
    };
    const fn = (
      id: string,
      entry: string,
      description: string,
      extra: Partial<ServiceFunctionProps> = {}
    ) =>
      new ServiceFunction(this, id, {
        ...common,
        entry,
        description,
        ...extra,
        ...tracingOff,
        environment: { ...egress, ...extra.environment },
      }).bindSecret(componentSecret, SECRET_ENV.component);

    // Isolation (docs/deploy.md, Concurrency and throttling): none of these is set by default.
    const publicRoute = { reservedConcurrentExecutions: config.publicRouteConcurrencyCap };
    const authEvent = fn(
      'AuthEvent',
      'auth-event',
      'POST /wechat/events: tickets, authorizations',
      publicRoute
    );
    authEvent.bindSecret(messageSecret, SECRET_ENV.message);
    authEvent.bindTable(table, { items: ['GetItem', 'PutItem', 'UpdateItem'] });
    const authorizePage = fn('AuthorizePage', 'authorize-page', 'GET /authorize: the entry page', {
      ...publicRoute,
      environment: pages,
    });
    authorizePage.bindTable(table, { items: ['GetItem', 'UpdateItem'] });
    const authorizeCallback = fn(
      'AuthorizeCallback',
      'authorize-callback',
      'GET /authorize/callback: exchanges the auth_code',
      { ...publicRoute, environment: pages }
    );
    authorizeCallback.bindTable(table, { items: ['GetItem', 'PutItem', 'UpdateItem'] });
    // The sweep is CPU-bound on SDK request overhead (bench/): 1 GB buys twice the vCPU of 512 MB.
    const refresh = fn('Refresh', 'refresh', 'Scheduled: refreshes tokens and pending codes', {
      timeout: Duration.minutes(5),
      memorySize: 1024,
      reservedConcurrentExecutions: config.refreshReservedConcurrency,
    });
    // Scan: the operators' listings (`npx wechat-token list|status`), run inside refresh so operators need
    // nothing but lambda:InvokeFunction on it.
    refresh.bindTable(table, {
      items: ['GetItem', 'PutItem', 'UpdateItem'],
      queryDueIndex: true,
      scanTable: true,
    });
    // No route, no URL; a resource policy only for the accounts listed in getTokenCallerAccountIds.
    const getToken = fn(
      'GetToken',
      'get-token',
      'Invoked by callers (IAM): returns a valid token',
      {
        tracing: lambda.Tracing.PASS_THROUGH,
        reservedConcurrentExecutions: config.getTokenReservedConcurrency,
      }
    );
    getToken.bindTable(table, { items: ['GetItem', 'UpdateItem'] });
    for (const account of config.getTokenCallerAccountIds) {
      getToken.addPermission(`Caller${account}`, {
        principal: new iam.AccountPrincipal(account),
        action: 'lambda:InvokeFunction',
      });
    }
    // Callers' WeChat calls, from the egress whose IP is on the whitelist; it renews tokens WeChat rejects.
    const callWechat = fn(
      'CallWeChat',
      'call-wechat',
      'Invoked by callers (IAM): makes a WeChat API call from the whitelisted egress',
      {
        timeout: Duration.seconds(30),
        tracing: lambda.Tracing.PASS_THROUGH,
        ...(config.callWechatPathPrefixes.length
          ? {
              environment: {
                CALL_WECHAT_PATH_PREFIXES: config.callWechatPathPrefixes.join(','),
              },
            }
          : {}),
      }
    );
    callWechat.bindTable(table, { items: ['GetItem', 'UpdateItem'] });
    for (const account of config.getTokenCallerAccountIds) {
      callWechat.addPermission(`Caller${account}`, {
        principal: new iam.AccountPrincipal(account),
        action: 'lambda:InvokeFunction',
      });
    }
    // Every function that can change an authorizer's lifecycle publishes it (the page mints codes only).
    const lifecycleEvents = new LifecycleEventBus(this, 'LifecycleEvents');
    for (const publisher of [authEvent, authorizeCallback, refresh, getToken, callWechat]) {
      lifecycleEvents.allowPublishing(publisher);
    }
    // The message-and-event URL (消息与事件接收URL): authorizers' messages and events go on the same bus
    // (`wechat.message`, `wechat.event`). It only reads the table (is the appid an authorizer?), and starts
    // the release check's customer-service answer on refresh asynchronously (refresh calls WeChat with the
    // authorizer's token; this function answers WeChat within its 5 s meanwhile).
    const wechatMessage = fn(
      'WechatMessage',
      'wechat-message',
      'POST /wechat/messages/{appid}: authorizers’ messages and events, onto the event bus',
      { ...publicRoute, environment: { REFRESH_FUNCTION_NAME: refresh.functionName } }
    );
    wechatMessage.bindSecret(messageSecret, SECRET_ENV.message);
    wechatMessage.bindTable(table, { items: ['GetItem'] });
    lifecycleEvents.allowPublishing(wechatMessage);
    // The contracts of what goes on the bus, from the client's JSON Schemas (docs/events.md, Lifecycle events).
    const eventSchemas = new EventSchemaRegistry(this, 'EventSchemas', {
      contracts: [
        { name: 'LifecycleEvent', file: 'lifecycle-event.schema.json' },
        {
          name: 'WechatMessageEvent',
          file: 'wechat-message-event.schema.json',
          detailTypes: ['wechat.message', 'wechat.event'],
        },
      ],
    });
    // The function itself, not `grantInvoke`, which adds its versions and aliases (`<arn>:*`).
    wechatMessage.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'StartRefreshJobs',
        actions: ['lambda:InvokeFunction'],
        resources: [refresh.functionArn],
      })
    );

    const api = new PublicHttpApi(this, 'Api', {
      ...(config.authorizeDomain && config.authorizeDomainCertificateArn
        ? {
            customDomain: {
              name: config.authorizeDomain,
              certificate: acm.Certificate.fromCertificateArn(
                this,
                'AuthorizeDomainCertificate',
                config.authorizeDomainCertificateArn
              ),
            },
            disableExecuteApiEndpoint: config.disableExecuteApiEndpoint,
          }
        : {}),
    });
    if (api.domain && config.hostedZoneId && config.hostedZoneName) {
      const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'AuthorizeDomainZone', {
        hostedZoneId: config.hostedZoneId,
        zoneName: config.hostedZoneName,
      });
      new route53.ARecord(this, 'AuthorizeDomainRecord', {
        zone,
        recordName: config.authorizeDomain,
        target: route53.RecordTarget.fromAlias(
          new route53Targets.ApiGatewayv2DomainProperties(
            api.domain.regionalDomainName,
            api.domain.regionalHostedZoneId
          )
        ),
      });
    }
    api.addPublicRoute('AuthEvent', {
      method: HttpMethod.POST,
      path: '/wechat/events',
      handler: authEvent,
      whyPublic:
        'WeChat servers push here and cannot sign requests; the handler verifies msg_signature with the ' +
        'component token and decrypts with the AES key before writing anything.',
    });
    api.addPublicRoute('AuthorizePage', {
      method: HttpMethod.GET,
      path: '/authorize',
      handler: authorizePage,
      whyPublic:
        'The merchant admin opens this page in a browser; it returns only a link carrying a short-lived ' +
        'pre_auth_code, which is useless without the merchant confirming in WeChat.',
    });
    api.addPublicRoute('AuthorizeCallback', {
      method: HttpMethod.GET,
      path: '/authorize/callback',
      handler: authorizeCallback,
      whyPublic:
        'WeChat redirects the browser here with auth_code; the code is only honoured after WeChat confirms ' +
        'it via api_query_auth, and the page shows no token.',
    });
    api.addPublicRoute('WechatMessage', {
      method: HttpMethod.POST,
      path: '/wechat/messages/{appid}',
      handler: wechatMessage,
      whyPublic:
        'WeChat servers push authorizers’ messages and events here and cannot sign requests; the handler ' +
        'verifies msg_signature with the message token and decrypts with the AES key, and publishes only ' +
        'for an appid that is an authorizer of this platform; it answers with no token.',
      // A popular account's fans send thousands of messages a second (bench: --only=message-intake).
      throttle: { rateLimit: 2_000, burstLimit: 4_000 },
    });

    const schedule = new RefreshSchedule(this, 'RefreshSchedule', {
      target: refresh,
      encryptionKey: serviceKey,
    });
    const alarms = new ServiceAlarms(this, 'Alarms', {
      functions: {
        AuthEvent: authEvent,
        AuthorizePage: authorizePage,
        AuthorizeCallback: authorizeCallback,
        Refresh: refresh,
        GetToken: getToken,
        CallWeChat: callWechat,
        WechatMessage: wechatMessage,
      },
      table: { tableName: table.table.tableName, indexNames: [TokenTable.DUE_INDEX_NAME] },
      httpApi: api.api,
      natGatewayIds: network.natGatewayIds,
      natInstanceIds: network.natInstanceIds,
      deadLetterQueue: schedule.deadLetterQueue,
      alarmEmail: config.alarmEmail,
      encryptionKey: serviceKey,
    });

    // CDK's own provider function (the VPC's default security group, locked down) follows the chosen
    // runtime too: its default is the newest, which a China region may not offer yet.
    for (const child of this.node.findAll()) {
      if (
        child instanceof CfnResource &&
        child.cfnResourceType === 'AWS::Lambda::Function' &&
        !(child instanceof lambda.CfnFunction)
      ) {
        child.addPropertyOverride('Runtime', config.lambdaRuntime);
      }
    }

    const invokeStatement = new iam.PolicyStatement({
      actions: ['lambda:InvokeFunction'],
      resources: [getToken.functionArn, callWechat.functionArn],
    });
    const invokePolicy = new iam.ManagedPolicy(this, 'GetTokenInvokePolicy', {
      description: 'Attach to a caller role: may invoke get-token and call-wechat, nothing else',
      statements: [invokeStatement],
    });

    const publicBase = config.authorizeDomain ? `https://${config.authorizeDomain}` : api.endpoint;
    const out = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    const list = (values: readonly string[]) => Fn.join(',', [...values]);
    if (network.egressIps.length > 0) {
      out(
        'EgressIps',
        list(network.egressIps),
        'Add each to 第三方平台 → 开发资料 → 白名单 (IP whitelist)'
      );
    }
    out(
      'EgressEipAllocationIds',
      list(network.eipAllocationIds),
      'The NAT Elastic IPs (retained on delete): egressEipAllocationIds to keep them on a rebuild'
    );
    if (config.authorizeDomain) {
      out(
        'AuthorizeDomain',
        config.authorizeDomain,
        api.domain
          ? '授权发起页域名: served by this stack’s custom domain'
          : '授权发起页域名: map it to ApiEndpoint as a custom domain'
      );
    }
    if (api.domain && !config.hostedZoneId) {
      out(
        'AuthorizeDomainTarget',
        api.domain.regionalDomainName,
        'Point the domain here: a CNAME (or an alias) in your DNS'
      );
    }
    if (!(api.domain && config.disableExecuteApiEndpoint)) {
      out('ApiEndpoint', api.endpoint, 'HTTP API endpoint (target for a custom domain mapping)');
    }
    out('EventUrl', `${publicBase}/wechat/events`, '授权事件接收URL (authorization event URL)');
    out(
      'MessageUrl',
      `${publicBase}/wechat/messages/$APPID$`,
      '消息与事件接收URL (message and event URL): enter it as it is; WeChat replaces $APPID$'
    );
    out('AuthorizePageUrl', `${publicBase}/authorize`, 'Authorization entry page for merchants');
    out(
      'AuthorizeCallbackUrl',
      `${publicBase}/authorize/callback`,
      'redirect_uri after authorizing'
    );
    out('GetTokenFunctionName', getToken.functionName, 'Invoke with {"authorizerAppId":"wx…"}');
    out('GetTokenFunctionArn', getToken.functionArn, 'Invoke with lambda:InvokeFunction');
    out(
      'CallWeChatFunctionName',
      callWechat.functionName,
      'Invoke with {"authorizerAppId":"wx…","path":"/cgi-bin/…"}: WeChat calls from the whitelisted IP'
    );
    out('CallWeChatFunctionArn', callWechat.functionArn, 'Invoke with lambda:InvokeFunction');
    out(
      'RefreshFunctionName',
      refresh.functionName,
      'Operators: npx wechat-token --function <this> (or --stack), lambda:InvokeFunction on it'
    );
    out('RefreshFunctionArn', refresh.functionArn, 'The operators’ invoke policy names this ARN');
    out('GetTokenInvokePolicyArn', invokePolicy.managedPolicyArn, 'Attach to caller roles');
    out(
      'GetTokenCallerPolicy',
      this.toJsonString({ Version: '2012-10-17', Statement: [invokeStatement.toStatementJson()] }),
      'Identity policy for callers in other accounts (put-role-policy)'
    );
    out('ComponentSecretId', componentSecret.secretId, 'Put {"componentAppSecret"} here');
    out('MessageSecretId', messageSecret.secretId, 'Put {"token","encodingAesKey"} here');
    out('TokenTableName', table.table.tableName, 'DynamoDB token table (retained on delete)');
    out(
      'EventBusName',
      lifecycleEvents.bus.eventBusName,
      'EventBridge bus of the lifecycle events: add your rules here (docs/events.md, Lifecycle events)'
    );
    out('EventBusArn', lifecycleEvents.bus.eventBusArn, 'The same bus, for rules and policies');
    out(
      'EventSchemaRegistryName',
      eventSchemas.registry.attrRegistryName,
      'EventBridge schema registry of the bus’s events (LifecycleEvent, WechatMessageEvent)'
    );
    out('AlarmTopicArn', alarms.topic.topicArn, 'Every alarm and recovery; subscribe your paging');
    if (serviceKey) {
      out('KmsKeyArn', serviceKey.key.keyArn, 'The key of the table, secrets, alarm topic and DLQ');
    }
    if (serviceKey?.imported) {
      out(
        'KeyPolicyStatements',
        this.toJsonString(serviceKey.useStatements.map((s) => s.toStatementJson())),
        'Add to your key’s policy (docs/deploy.md, Keys of your own)'
      );
    }
    out(
      'RebuildContext',
      this.toJsonString({
        tokenTableName: table.table.tableName,
        componentSecretName: componentSecret.secretName,
        messageSecretName: messageSecret.secretName,
        egressEipAllocationIds: list(network.eipAllocationIds),
      }),
      'After cdk destroy: merge into deploy.context.json to re-attach what was retained'
    );
  }
}
