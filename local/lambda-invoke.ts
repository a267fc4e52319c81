import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { HttpResult } from '../functions/lib/http';
import type { Route } from './local-service';

/**
 * The route of Lambda's Invoke API, keyed as API Gateway keys a route with a path parameter. The sandbox's
 * route table is keyed by exact `METHOD path`; `lambdaRouteKey` maps every invocations path onto this key.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
 */
export const LAMBDA_INVOKE_ROUTE = 'POST /2015-03-31/functions/{FunctionName}/invocations';

const INVOKE_ROUTE_KEY = /^POST \/2015-03-31\/functions\/[^/]+\/invocations$/;

/** `LAMBDA_INVOKE_ROUTE` for a request to any function's invocations path, otherwise `routeKey` itself. */
export function lambdaRouteKey(routeKey: string): string {
  return INVOKE_ROUTE_KEY.test(routeKey) ? LAMBDA_INVOKE_ROUTE : routeKey;
}

/**
 * The forms of `FunctionName` Lambda accepts: a name, a partial ARN (`123456789012:function:name`) or an ARN,
 * each optionally with a `:qualifier`.
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_RequestSyntax
 */
const FUNCTION_NAME =
  /^(?:arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):\d{12}:function:|\d{12}:function:)?([a-zA-Z0-9_-]{1,64})(?::(\$LATEST|[a-zA-Z0-9_-]{1,128}))?$/;

/** The sandbox's account id in the ARNs it reports (no real account is involved). */
const ACCOUNT_ID = '000000000000';
const DEFAULT_REGION = 'us-east-1';

/** A function the sandbox can invoke: the deployed handler, called with the parsed payload. */
export type InvokedFunction = (payload: unknown, context: Context) => Promise<unknown>;

function respond(
  status: number,
  headers: Record<string, string>,
  body: string | undefined
): HttpResult {
  return { statusCode: status, headers: { 'x-amzn-requestid': randomUUID(), ...headers }, body };
}

/** Lambda's error answer for a refused request: the type in `x-amzn-errortype`, a JSON message. */
function lambdaError(status: number, type: string, message: string): HttpResult {
  return respond(
    status,
    { 'content-type': 'application/json', 'x-amzn-errortype': type },
    JSON.stringify({ Type: 'User', message })
  );
}

/**
 * The region the client signed for (SigV4 credential scope). The sandbox has no region of its own: it
 * stands for Lambda in whichever region the client was pointed at (`us-east-1` for an unsigned request), so
 * an ARN must name that region, and error ARNs look like the client's own.
 */
function signedRegion(event: APIGatewayProxyEventV2): string {
  const scope = /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\/lambda\//.exec(
    event.headers.authorization ?? ''
  );
  return scope?.[1] ?? DEFAULT_REGION;
}

function rawBody(event: APIGatewayProxyEventV2): Buffer {
  if (!event.body) return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/**
 * What the Lambda runtime for Node.js answers when a handler throws: `X-Amz-Function-Error: Unhandled` and
 * `{errorType, errorMessage, trace}`, with status 200 (the invoke itself worked).
 */
function unhandled(error: unknown): HttpResult {
  const e = error instanceof Error ? error : new Error(String(error));
  return respond(
    200,
    {
      'content-type': 'application/json',
      'x-amz-executed-version': '$LATEST',
      'x-amz-function-error': 'Unhandled',
    },
    JSON.stringify({
      errorType: e.name,
      errorMessage: e.message,
      trace: (e.stack ?? '').split('\n'),
    })
  );
}

/**
 * Lambda's Invoke API (`POST /2015-03-31/functions/{FunctionName}/invocations`) in front of the sandbox's
 * functions, so unchanged AWS clients (SDKs, the CLI) work against `npm start` with only an endpoint
 * override. The body may come with any content type; it must be JSON (empty means `{}`, as in Lambda).
 * Answers as Lambda does: 200 with the handler's result (`X-Amz-Executed-Version: $LATEST`), 200 with
 * `X-Amz-Function-Error: Unhandled` when the handler throws, 202 for `Event` and 204 for `DryRun`
 * invocations, 404 `ResourceNotFoundException` for another function, an ARN of a region other than the
 * one the request was signed for, or a qualifier other than `$LATEST`,
 * 400 `InvalidRequestContentException` for a body that is not JSON. Signatures are not checked. Each
 * invocation gets `context(name)`, a fresh Lambda context.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
 */
export function lambdaInvokeApi(
  functions: Readonly<Record<string, InvokedFunction>>,
  context: (functionName: string) => Context
): Route {
  return async (event) => {
    const encoded =
      /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(event.rawPath)?.[1] ?? '';
    let requested: string;
    try {
      requested = decodeURIComponent(encoded);
    } catch {
      requested = encoded;
    }
    const parts = FUNCTION_NAME.exec(requested);
    const name = parts?.[2] ?? requested;
    const qualifier = event.queryStringParameters?.Qualifier ?? parts?.[3];
    const region = signedRegion(event);
    // An ARN of another region names a function this endpoint does not have, as in Lambda.
    const arnRegion = parts?.[1] ?? region;
    const fn =
      parts && arnRegion === region && Object.hasOwn(functions, name) ? functions[name] : undefined;
    if (!fn || (qualifier !== undefined && qualifier !== '$LATEST')) {
      const arn = `arn:aws:lambda:${arnRegion}:${ACCOUNT_ID}:function:${name}`;
      return lambdaError(
        404,
        'ResourceNotFoundException',
        `Function not found: ${qualifier ? `${arn}:${qualifier}` : arn}`
      );
    }

    const invocationType = event.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (!['RequestResponse', 'Event', 'DryRun'].includes(invocationType)) {
      return lambdaError(
        400,
        'InvalidParameterValueException',
        `Unsupported invocation type: ${invocationType.slice(0, 40)}`
      );
    }
    const text = rawBody(event).toString('utf8');
    let payload: unknown;
    try {
      payload = text.trim() ? JSON.parse(text) : {};
    } catch (error) {
      return lambdaError(
        400,
        'InvalidRequestContentException',
        `Could not parse request body into json: ${(error as Error).message}`
      );
    }
    if (invocationType === 'DryRun') return respond(204, {}, undefined);
    if (invocationType === 'Event') {
      fn(payload, context(name)).catch((error: unknown) => {
        process.emitWarning(`asynchronous invoke of ${name} failed: ${(error as Error).name}`);
      });
      return respond(202, {}, undefined);
    }
    let result: unknown;
    try {
      result = await fn(payload, context(name));
    } catch (error) {
      return unhandled(error);
    }
    return respond(
      200,
      { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' },
      JSON.stringify(result) ?? 'null'
    );
  };
}
