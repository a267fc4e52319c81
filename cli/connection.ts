import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { systemCode, UNREACHABLE_CODES } from '../client/src/errors';
import type { Target } from './args';

/** The stack output that names the refresh function (`infra/token-service-stack.ts`). */
export const FUNCTION_OUTPUT = 'RefreshFunctionName';
/** The refresh function's name in the sandbox's Invoke API (`npm start`). */
export const SANDBOX_FUNCTION = 'refresh';
/** The refresh function's timeout (5 minutes) and a margin: a reconcile may take that long to answer. */
const INVOKE_TIMEOUT_MS = 6 * 60_000;

/**
 * A failure `wechat-token` reports with exit code 1: the service's code (`authorizer_not_found`,
 * `wechat_quota`, …) or one of the CLI's own: `function_error` (the function crashed), `invoke_failed` (the
 * Lambda API refused: credentials, permission, unknown function, region), `not_refresh_function` (another
 * of the service's functions answered), `endpoint_unreachable`, `malformed_response`,
 * `stack_lookup_failed`, `stack_output_missing`.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: string,
    message: string
  ) {
    super(message);
  }
}

/** Sends one job to the refresh function and returns its answer; a coded refusal is thrown. */
export type Invoke = (job: Record<string, unknown>) => Promise<unknown>;

/** What an AWS SDK call threw, as a `CliError`: translated once, where it enters. */
function fromAwsError(error: unknown, code: 'invoke_failed' | 'stack_lookup_failed'): CliError {
  const system = systemCode(error);
  if (system && (UNREACHABLE_CODES.has(system) || system === 'ETIMEDOUT')) {
    return new CliError('endpoint_unreachable', `the AWS endpoint is unreachable (${system})`);
  }
  const { name, message } = error instanceof Error ? error : new Error(String(error));
  return new CliError(code, `${name}: ${message}`);
}

/**
 * Where the SDK clients go and as whom. Region and credentials come from the environment and profile as
 * for any AWS tool; against an endpoint override (the sandbox, which checks no signature) a region and
 * placeholder credentials are filled in when the environment has none.
 */
function clientConfig(target: Target, env: NodeJS.ProcessEnv) {
  const local = target.endpointUrl !== undefined;
  const region =
    target.region ??
    (local && !env.AWS_REGION && !env.AWS_DEFAULT_REGION ? 'us-east-1' : undefined);
  const anonymous = local && !env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE;
  return {
    ...(region ? { region } : {}),
    ...(anonymous ? { credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' } } : {}),
  };
}

/** The refresh function's name from the stack's `RefreshFunctionName` output (DescribeStacks). */
async function functionOfStack(
  stackName: string,
  config: ReturnType<typeof clientConfig>
): Promise<string> {
  const cloudFormation = new CloudFormationClient(config);
  let outputs: { OutputKey?: string; OutputValue?: string }[];
  try {
    const answer = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = answer.Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    throw fromAwsError(error, 'stack_lookup_failed');
  } finally {
    cloudFormation.destroy();
  }
  const name = outputs.find((output) => output.OutputKey === FUNCTION_OUTPUT)?.OutputValue;
  if (!name) {
    throw new CliError(
      'stack_output_missing',
      `stack ${stackName} has no ${FUNCTION_OUTPUT} output: deploy the current version, or pass --function`
    );
  }
  return name;
}

const decoder = new TextDecoder();

/**
 * How get-token and call-wechat refuse an operator job: they take no `job` field
 * (`functions/get-token.ts`, `shared/egress/wechat-call-request.ts`). The refresh function's own refusal of
 * an unknown field names the job (`unknown field(s) for status: …`), so it never matches.
 */
const NOT_A_JOB_TAKER = /^unknown field\(s\): (?:"[^"]*", )*"job"(?:, |$)/;

/** The function's answer: the job's result, or its coded refusal thrown as a `CliError`. */
function readAnswer(
  functionName: string,
  payload: Uint8Array | undefined,
  functionError: string | undefined
): unknown {
  let answer: unknown;
  try {
    answer = JSON.parse(decoder.decode(payload ?? new Uint8Array()));
  } catch {
    throw new CliError(
      'malformed_response',
      'the refresh function answered something that is not JSON'
    );
  }
  if (functionError) {
    const { errorType, errorMessage } = (answer ?? {}) as Record<string, unknown>;
    throw new CliError(
      'function_error',
      `the refresh function failed (${String(errorType ?? functionError)}: ${String(errorMessage ?? '')}); see its log group`
    );
  }
  const error = (answer as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (error) {
    const message = String(error.message ?? '');
    if (error.code === 'invalid_request' && NOT_A_JOB_TAKER.test(message)) {
      throw new CliError(
        'not_refresh_function',
        `${functionName} is not the refresh function (it refused the job as get-token and call-wechat do): ` +
          `pass the stack's ${FUNCTION_OUTPUT} output to --function, or use --stack <name>`
      );
    }
    throw new CliError(String(error.code ?? 'unknown_error'), message);
  }
  return answer;
}

/**
 * Resolves the refresh function (`--function`, the stack's output, or the sandbox's `refresh`) and returns
 * how to invoke it. Jobs that change something (`refresh`, `reconcile`) are sent once, never retried by the
 * SDK: a retry after a lost answer would renew twice.
 *
 * @throws CliError when the stack cannot be read.
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
 */
export async function connect(
  target: Target,
  options: { retry: boolean },
  env: NodeJS.ProcessEnv = process.env
): Promise<{ invoke: Invoke; close(): void }> {
  const config = clientConfig(target, env);
  const functionName =
    target.functionName ??
    (target.stackName ? await functionOfStack(target.stackName, config) : SANDBOX_FUNCTION);
  const lambda = new LambdaClient({
    ...config,
    ...(target.endpointUrl ? { endpoint: target.endpointUrl } : {}),
    ...(options.retry ? {} : { maxAttempts: 1 }),
    requestHandler: { requestTimeout: INVOKE_TIMEOUT_MS },
  });
  const encoder = new TextEncoder();
  return {
    invoke: async (job) => {
      let output: InvokeCommandOutput;
      try {
        output = await lambda.send(
          new InvokeCommand({
            FunctionName: functionName,
            Payload: encoder.encode(JSON.stringify(job)),
          })
        );
      } catch (error) {
        throw fromAwsError(error, 'invoke_failed');
      }
      return readAnswer(functionName, output.Payload, output.FunctionError);
    },
    close: () => lambda.destroy(),
  };
}
