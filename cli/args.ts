import { parseArgs } from 'node:util';
import { isAppId } from '../shared/config';
import { AUTHORIZER_STATES, LIST_MAX_LIMIT } from '../shared/jobs/job-contract';
import type { AuthorizerStatus } from '../shared/store/token-store';

/** What `wechat-token` was asked to do. */
export type Command =
  | { name: 'status' }
  | { name: 'list'; state?: AuthorizerStatus; limit?: number; pageSize: number }
  | { name: 'show'; authorizerAppId: string; reveal: boolean }
  | { name: 'refresh'; authorizerAppId: string }
  | { name: 'reconcile' };

/** Where the refresh function is and how to print. */
export interface Target {
  /** `--function`: a name or ARN. */
  functionName?: string;
  /** `--stack`: read the function's name from that stack's `RefreshFunctionName` output. */
  stackName?: string;
  /** `--endpoint-url`: the Lambda endpoint (the sandbox: `npm start`'s URL). */
  endpointUrl?: string;
  region?: string;
  /** `--json`: one JSON document on stdout, for scripts. */
  json: boolean;
}

/** A parsed command line: the usage or the version was asked for, or a command and where to send it. */
export type Invocation =
  | { print: 'help' | 'version' }
  | { print?: undefined; command: Command; target: Target };

/** The command line is wrong: exit code 2, with one line naming the problem. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What `--help` prints. */
export const USAGE = `Usage: npx wechat-token <command> [options]

Commands:
  status                   ticket age, component token, authorizers by state, the last runs
  list [--state <state>]   authorizers (state: ${AUTHORIZER_STATES.join(', ')})
       [--limit <n>] [--page-size <n>]
  show <appid> [--reveal]  one authorizer; its access token only with --reveal
  refresh <appid>          renew that authorizer's access token now (one WeChat call)
  reconcile                import what WeChat's authorizer list has and the table lacks

Where the service is (one of):
  --function <name|arn>    the refresh function (the stack's RefreshFunctionName output)
  --stack <name>           read RefreshFunctionName from this CloudFormation stack
  --endpoint-url <url>     a Lambda endpoint, e.g. the sandbox's http://127.0.0.1:3000
                           (function "refresh" unless --function says otherwise)

Options:
  --region <region>        AWS region (default: the SDK's, from AWS_REGION or the profile)
  --json                   machine output: one JSON document on stdout
  -h, --help, help         this text
  --version                the CLI's version

Exit codes: 0 done, 1 the service or AWS refused (the code is printed), 2 usage.`;

const COMMANDS: Record<Command['name'], number> = {
  status: 0,
  list: 0,
  show: 1,
  refresh: 1,
  reconcile: 0,
};

const isCommand = (value: string | undefined): value is Command['name'] =>
  value !== undefined && Object.hasOwn(COMMANDS, value);

function positiveInteger(name: string, value: string | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) {
    throw new UsageError(`--${name} must be an integer from 1 to ${max}`);
  }
  return n;
}

/**
 * Reads `wechat-token`'s arguments. Options may come before or after the command.
 *
 * @throws UsageError naming the problem.
 */
export function parseCommandLine(argv: readonly string[]): Invocation {
  checkOptions(argv);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [name, ...rest] = positionals;
  if (values.help || (name === 'help' && rest.length === 0)) return { print: 'help' };
  if (values.version) return { print: 'version' };
  if (!isCommand(name)) {
    throw new UsageError(name === undefined ? 'no command given' : `unknown command "${name}"`);
  }
  if (rest.length !== COMMANDS[name]) {
    throw new UsageError(
      COMMANDS[name] ? `${name} takes one <appid>` : `${name} takes no argument (got "${rest[0]}")`
    );
  }
  const onlyFor = (option: string, command: Command['name'], given: unknown) => {
    if (given !== undefined && name !== command) {
      throw new UsageError(`--${option} is an option of ${command} only`);
    }
  };
  onlyFor('reveal', 'show', values.reveal);
  onlyFor('state', 'list', values.state);
  onlyFor('limit', 'list', values.limit);
  onlyFor('page-size', 'list', values['page-size']);
  if (values.function !== undefined && values.stack !== undefined) {
    throw new UsageError('--function and --stack name the same thing: give one');
  }
  if (values.stack !== undefined && values['endpoint-url'] !== undefined) {
    throw new UsageError('--stack reads a deployed stack; with --endpoint-url use --function');
  }
  if (
    values.function === undefined &&
    values.stack === undefined &&
    values['endpoint-url'] === undefined
  ) {
    throw new UsageError(
      'say where the service is: --function <name|arn>, --stack <name> or --endpoint-url <url>'
    );
  }
  if (
    values['endpoint-url'] !== undefined &&
    !/^https?:\/\/[^\s/]+\/?$/.test(values['endpoint-url'])
  ) {
    throw new UsageError('--endpoint-url must be an http(s) origin, e.g. http://127.0.0.1:3000');
  }
  const appId = rest[0];
  if (appId !== undefined && !isAppId(appId)) {
    throw new UsageError(
      `"${rest[0]?.slice(0, 40)}" is not an appid (wx followed by 14–30 letters or digits)`
    );
  }
  const state = values.state;
  if (state !== undefined && !(AUTHORIZER_STATES as readonly string[]).includes(state)) {
    throw new UsageError(`--state must be one of ${AUTHORIZER_STATES.join(', ')}`);
  }
  const target: Target = {
    json: values.json ?? false,
    ...(values.function === undefined ? {} : { functionName: values.function }),
    ...(values.stack === undefined ? {} : { stackName: values.stack }),
    ...(values['endpoint-url'] === undefined
      ? {}
      : { endpointUrl: values['endpoint-url'].replace(/\/$/, '') }),
    ...(values.region === undefined ? {} : { region: values.region }),
  };
  return { command: command(name, appId as string, values, state), target };
}

function command(
  name: Command['name'],
  authorizerAppId: string,
  values: ReturnType<typeof parse>['values'],
  state: string | undefined
): Command {
  switch (name) {
    case 'list': {
      const limit = positiveInteger('limit', values.limit, Number.MAX_SAFE_INTEGER);
      return {
        name,
        pageSize:
          positiveInteger('page-size', values['page-size'], LIST_MAX_LIMIT) ?? LIST_MAX_LIMIT,
        ...(state === undefined ? {} : { state: state as AuthorizerStatus }),
        ...(limit === undefined ? {} : { limit }),
      };
    }
    case 'show':
      return { name, authorizerAppId, reveal: values.reveal ?? false };
    case 'refresh':
      return { name, authorizerAppId };
    default:
      return { name };
  }
}

const OPTIONS = {
  function: { type: 'string' },
  stack: { type: 'string' },
  'endpoint-url': { type: 'string' },
  region: { type: 'string' },
  json: { type: 'boolean' },
  reveal: { type: 'boolean' },
  state: { type: 'string' },
  limit: { type: 'string' },
  'page-size': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

/** Edits (insertions, deletions, substitutions) that turn `a` into `b`. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        (row[j] ?? 0) + 1,
        (next[j - 1] ?? 0) + 1,
        (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      );
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

/** The known option `name` was most likely meant as: one it begins, or one a few edits away. */
function closestOption(name: string): string | undefined {
  const known = Object.keys(OPTIONS);
  const lower = name.toLowerCase();
  const prefixed = known.find(
    (option) => (lower.length >= 3 && option.startsWith(lower)) || lower.startsWith(option)
  );
  if (prefixed) return prefixed;
  let best: { option: string; edits: number } | undefined;
  for (const option of known) {
    const edits = distance(lower, option);
    if (edits <= Math.max(1, Math.floor(option.length / 3)) && edits < (best?.edits ?? Infinity)) {
      best = { option, edits };
    }
  }
  return best?.option;
}

/**
 * Names what is wrong with an option in words of its own instead of `parseArgs`' (which explains
 * positionals starting with `-`): an unknown option with the closest known one, a value missing or
 * given to a flag.
 *
 * @throws UsageError
 */
function checkOptions(argv: readonly string[]): void {
  const { tokens } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: false,
    tokens: true,
    options: OPTIONS,
  });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const option: { type: string } | undefined = Object.hasOwn(OPTIONS, token.name)
      ? OPTIONS[token.name as keyof typeof OPTIONS]
      : undefined;
    if (!option) {
      const guess = token.rawName.startsWith('--') ? closestOption(token.name) : undefined;
      throw new UsageError(
        `unknown option ${token.rawName}${guess ? ` (did you mean --${guess}?)` : ''}`
      );
    }
    if (option.type === 'boolean' && token.value !== undefined) {
      throw new UsageError(`${token.rawName} takes no value`);
    }
    // `--state --json`: the next option is no value (`--state=-x` would be one).
    const missing =
      token.value === undefined || (token.value.startsWith('-') && !token.inlineValue);
    if (option.type === 'string' && missing) {
      throw new UsageError(`${token.rawName} needs a value`);
    }
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: OPTIONS });
}
