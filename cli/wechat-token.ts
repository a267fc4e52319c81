/**
 * `npx wechat-token <command>`: the operations CLI. It talks to the service only by invoking the refresh
 * function with operator jobs (`shared/jobs/job-contract.ts`), so an operator needs nothing but
 * `lambda:InvokeFunction` on that one function (plus `cloudformation:DescribeStacks` for `--stack`), and
 * WeChat is only ever called from the functions, behind the whitelisted NAT. Against `npm start` it works
 * the same through the sandbox's Invoke API (`--endpoint-url`).
 *
 * @see ../docs/operations.md "Operations CLI"
 */
import { readFileSync } from 'node:fs';
import { type Invocation, parseCommandLine, USAGE, UsageError } from './args';
import { execute, type Io } from './commands';
import { CliError, connect } from './connection';

/** The process's streams. */
export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  errIsTty: process.stderr.isTTY === true,
};

/** Exit codes: 0 done, 1 the service or AWS refused, 2 usage. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** What follows a usage error's one line, instead of the whole usage. */
export const USAGE_HINT = 'run wechat-token --help for usage';

/** The repository's version (the root package.json's): the CLI is a bin of that private package. */
export function version(): string {
  const root = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return String(root.version);
}

/**
 * Runs `wechat-token` with `argv` (without `node` and the script) and returns its exit code. Results go to
 * `io.out`; errors, progress and notes to `io.err` (as one JSON line `{"error":{code,message}}` with
 * `--json`).
 */
export async function run(
  argv: readonly string[],
  io: Io = processIo,
  env: NodeJS.ProcessEnv = process.env
): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`wechat-token: ${error.message}\n${USAGE_HINT}\n`);
    return EXIT.usage;
  }
  if (invocation.print) {
    io.out(`${invocation.print === 'help' ? USAGE : version()}\n`);
    return EXIT.ok;
  }
  const { command, target } = invocation;
  // The SDK's notice about Node 22 from 2027 concerns deployments, not this tool.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let connection: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    connection = await connect(
      target,
      { retry: command.name !== 'refresh' && command.name !== 'reconcile' },
      env
    );
    await execute(command, connection.invoke, io, target.json);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    io.err(
      target.json
        ? `${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`
        : `wechat-token: ${error.code}: ${error.message}\n`
    );
    return EXIT.failed;
  } finally {
    connection?.close();
  }
}
