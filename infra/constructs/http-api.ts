import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Properties of {@link PublicHttpApi}. */
export interface PublicHttpApiProps {
  /**
   * Steady-state requests per second of each route: the stage's default route throttling, which API
   * Gateway applies to every route separately (each has its own token bucket), so the API as a whole takes
   * up to the number of routes times this. WeChat pushes a ticket every 10 minutes and authorizations are
   * human-paced, so this only bounds abuse and cost.
   * @default 50
   * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html
   */
  readonly rateLimit?: number;
  /**
   * Burst bucket size of each route, likewise per route.
   * @default 100
   */
  readonly burstLimit?: number;
  /**
   * Retention of the access log (JSON, one line per request; the query string, which may carry an
   * auth_code, is not logged).
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly accessLogRetention?: logs.RetentionDays;
  /**
   * The platform's own domain (授权发起页域名) with its ACM certificate: the API Gateway custom domain and its
   * mapping to this API's stage are created here, so they live and go with the stack.
   * @default - none: map a custom domain outside the stack
   */
  readonly customDomain?: { readonly name: string; readonly certificate: acm.ICertificate };
  /**
   * Turns off the default execute-api endpoint (only with `customDomain`): the API answers only on the
   * platform's domain.
   * @default false
   */
  readonly disableExecuteApiEndpoint?: boolean;
}

/** One route: who may call it and why it carries no authorizer. */
export interface PublicRouteOptions {
  readonly method: apigwv2.HttpMethod;
  readonly path: string;
  readonly handler: lambda.IFunction;
  /** Why this route is public; recorded as the cdk-nag APIG4 acknowledgment. */
  readonly whyPublic: string;
  /**
   * This route's own throttling, instead of the stage's default (`rateLimit`/`burstLimit`): for a route
   * whose traffic is not bounded by one platform's merchants (an account's fans' messages).
   */
  readonly throttle?: { rateLimit: number; burstLimit: number };
}

/**
 * The HTTP API (API Gateway v2) that WeChat's servers and merchants' browsers reach: a `$default` stage with
 * auto-deploy, per-route throttling and JSON access logs. Routes are public by nature (WeChat cannot sign
 * requests with IAM, a browser following WeChat's redirect carries no token) and each handler authenticates
 * what it receives itself; nothing here returns an access token. On the platform's own domain (needed for the
 * 授权发起页域名 Referer check) with `customDomain`, or a custom domain mapped outside the stack.
 */
export class PublicHttpApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  /** The custom domain, when {@link PublicHttpApiProps.customDomain} is given. */
  readonly domain?: apigwv2.DomainName;

  constructor(scope: Construct, id: string, props: PublicHttpApiProps = {}) {
    super(scope, id);
    this.api = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'WeChat third-party platform: authorization events and the authorization page',
      createDefaultStage: false,
      disableExecuteApiEndpoint: Boolean(props.customDomain && props.disableExecuteApiEndpoint),
    });
    const accessLogGroup = new logs.LogGroup(this, 'AccessLogGroup', {
      retention: props.accessLogRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.rateLimit ?? 50, burstLimit: props.burstLimit ?? 100 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogGroup),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            lambdaRequestId: '$context.integration.requestId',
            ip: '$context.identity.sourceIp',
            userAgent: '$context.identity.userAgent',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationError: '$context.integrationErrorMessage',
          })
        ),
      },
    });
    if (props.customDomain) {
      this.domain = new apigwv2.DomainName(this, 'CustomDomain', {
        domainName: props.customDomain.name,
        certificate: props.customDomain.certificate,
      });
      new apigwv2.ApiMapping(this, 'CustomDomainMapping', {
        api: this.api,
        domainName: this.domain,
        stage: this.stage,
      });
    }
  }

  /** The API's base URL, `https://<id>.execute-api.<region>.amazonaws.com` (`.com.cn` in China; no trailing slash). */
  get endpoint(): string {
    return this.api.apiEndpoint;
  }

  /** Routes `method path` to a Lambda (payload format 2.0) and records why the route has no authorizer. */
  addPublicRoute(id: string, options: PublicRouteOptions): void {
    const [route] = this.api.addRoutes({
      path: options.path,
      methods: [options.method],
      integration: new HttpLambdaIntegration(`${id}Integration`, options.handler),
    });
    Validations.of(route!).acknowledge({ id: 'AwsSolutions-APIG4', reason: options.whyPublic });
    if (options.throttle) {
      const stage = this.stage.node.defaultChild as apigwv2.CfnStage;
      stage.addPropertyOverride(`RouteSettings.${options.method} ${options.path}`, {
        ThrottlingRateLimit: options.throttle.rateLimit,
        ThrottlingBurstLimit: options.throttle.burstLimit,
      });
    }
  }
}
