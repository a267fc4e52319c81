import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/e2e/sandbox-process.ts). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A port that was free a moment ago: listen on 0, read it, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SandboxProcess {
  readonly child: ChildProcess;
  /** Everything written so far. */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the first match of `pattern` on stdout (or stderr); rejects on exit or timeout. */
  waitFor(
    pattern: RegExp,
    timeoutMs?: number,
    stream?: 'stdout' | 'stderr'
  ): Promise<RegExpMatchArray>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  /** Sends `signal` to the process; resolves with its exit. */
  stop(signal: NodeJS.Signals): Promise<Exit>;
  /** Sends `signal` to the whole process group, as a terminal does on Ctrl-C; resolves with the exit. */
  stopGroup(signal: NodeJS.Signals): Promise<Exit>;
  /**
   * The process that runs the sandbox itself: the last descendant in the group (below npm, sh or a tsx
   * CLI, if any). Linux (/proc) only.
   */
  sandboxPid(): number;
  /** SIGKILL to the whole process group when still running (afterAll, also after a failure). */
  kill(): void;
}

/** Every sandbox started, killed when the test process exits whatever the reason (a second safety net). */
const started = new Set<SandboxProcess>();
process.once('exit', () => {
  for (const sandbox of started) sandbox.kill();
});

/** Variables the sandbox reads: never inherited from the test's environment. */
const MINIMAL_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];

/** package.json's `start` script, e.g. `exec node --import tsx local/sandbox-cli.ts`. */
const START_SCRIPT = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
).scripts.start;

/**
 * Starts the sandbox in the repository root, in its own process group, with only `env` and a minimal
 * inherited environment: by default exactly as `npm start` runs it (its `start` script through `sh -c`,
 * `node_modules/.bin` first on the PATH); with `via: 'npm'`, `npm start` itself, with npm's signal
 * forwarding.
 */
export function spawnSandbox(
  env: Record<string, string>,
  options: { via?: 'script' | 'npm' } = {}
): SandboxProcess {
  const base: Record<string, string> = {};
  for (const name of MINIMAL_ENV) {
    const value = process.env[name];
    if (value !== undefined) base[name] = value;
  }
  base.PATH = [join(ROOT, 'node_modules', '.bin'), base.PATH].filter(Boolean).join(':');
  const [command, args] =
    options.via === 'npm'
      ? ['npm', ['start', '--no-update-notifier']]
      : ['sh', ['-c', START_SCRIPT]];
  const child = spawn(command, args as string[], {
    cwd: ROOT,
    env: { ...base, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const text = { stdout: '', stderr: '' };
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    text.stdout += chunk;
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    text.stderr += chunk;
    notify();
  });
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  // 'close' comes after the output streams ended: let waiters see the last chunks first.
  child.on('close', notify);

  const describe = () =>
    `\n--- stdout ---\n${text.stdout}\n--- stderr ---\n${text.stderr}\n--- exit: ${JSON.stringify(exit)}`;

  const sandbox: SandboxProcess = {
    child,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    exited,
    waitFor(pattern, timeoutMs = 10_000, stream) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match =
            (stream !== 'stderr' ? pattern.exec(text.stdout) : null) ??
            (stream !== 'stdout' ? pattern.exec(text.stderr) : null);
          if (match) return done(() => resolve(match));
          if (exit && child.stdout?.readableEnded !== false) {
            done(() => reject(new Error(`sandbox exited before ${pattern}${describe()}`)));
          }
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`timed out waiting for ${pattern}${describe()}`))),
          timeoutMs
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal) {
      child.kill(signal);
      return exited;
    },
    async stopGroup(signal) {
      if (child.pid !== undefined && !exit) process.kill(-child.pid, signal);
      return exited;
    },
    sandboxPid() {
      const group = child.pid as number;
      const parents = new Map<number, number>();
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          // "pid (comm) state ppid pgrp …"; comm may contain spaces, so read after the last ')'.
          const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
          const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          if (Number(pgrp) === group) parents.set(Number(entry), Number(ppid));
        } catch {
          // gone meanwhile
        }
      }
      let pid = group;
      for (;;) {
        const next = [...parents].find(([, ppid]) => ppid === pid)?.[0];
        if (next === undefined) return pid;
        pid = next;
      }
    },
    kill() {
      if (exit || child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
  started.add(sandbox);
  exited.then(() => started.delete(sandbox));
  return sandbox;
}

/** `POST <url>` with a JSON body, answering the parsed JSON. */
export async function postJson(
  url: string,
  body: unknown
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}
