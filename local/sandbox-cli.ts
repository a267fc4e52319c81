/**
 * `npm start`: reads the settings, starts the sandbox, prints the banner, and stops on a signal.
 *
 * Logs are compact console lines (redacted); no token, ticket, secret or auth code is ever printed.
 * SIGINT / SIGTERM close everything and exit 0 (see `shutdown.ts` for relayed copies and a second signal).
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../shared/errors';
import { type ConsoleSink, consoleLog, processSink } from './console-log';
import { PortInUseError, type Sandbox, startSandbox } from './sandbox';
import { startupLines } from './sandbox-banner';
import { readSandboxSettings, type SandboxSettings } from './sandbox-settings';
import { stopOnSignal } from './shutdown';

/** `npm start`: returns the process exit code for startup failures; otherwise runs until a signal. */
export async function main(
  env: Record<string, string | undefined> = process.env,
  sink: ConsoleSink = processSink
): Promise<number | undefined> {
  let settings: SandboxSettings;
  try {
    settings = readSandboxSettings(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    sink.err(
      `sandbox: invalid configuration:\n${error.problems.map((p) => `  - ${p}`).join('\n')}`
    );
    return 1;
  }
  const log = consoleLog({ level: settings.logLevel, sink });
  // The AWS SDK's "node >= 22 from 2027" notice is about deployments, not this local tool: keep it quiet.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Listening from the start: a Ctrl-C during startup stops cleanly once the parts are up.
  const starting = startSandbox(settings, log);
  const stop = stopOnSignal({
    close: () => starting.then((sandbox) => sandbox.close()),
    sink,
    exit: (code) => process.exit(code),
  });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let sandbox: Sandbox;
  try {
    sandbox = await starting;
  } catch (error) {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    const message =
      error instanceof PortInUseError
        ? error.message
        : `could not start: ${(error as Error).name}: ${(error as Error).message}`;
    sink.err(`sandbox: ${message}`);
    return 1;
  }
  for (const line of startupLines(sandbox, settings)) sink.out(line);
  return undefined;
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  main().then(
    (code) => {
      if (code !== undefined) process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(`sandbox: ${(error as Error).name}: ${(error as Error).message}\n`);
      process.exit(1);
    }
  );
}
