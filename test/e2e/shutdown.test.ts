import { afterAll, describe, expect, it } from 'vitest';
import { freePort, type SandboxProcess, spawnSandbox } from './sandbox-process';

/**
 * Ctrl-C on `npm start` while requests are in flight: the terminal signals the whole process group, npm
 * forwards the signal to its child as well (and so would tsx's CLI), so the sandbox receives the same SIGINT
 * more than once. It must still stop cleanly and exit 0.
 */

const READY = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m;

const running: SandboxProcess[] = [];
afterAll(() => {
  for (const sandbox of running) sandbox.kill();
});

/** `workers` loops of requests (a token, the authorization page) until the sandbox stops answering. */
function load(url: string, workers: number): { served: () => number; done: Promise<void> } {
  let served = 0;
  const loop = async (worker: number) => {
    for (;;) {
      const request =
        worker % 2
          ? fetch(`${url}/local/token`, { method: 'POST', body: '{"component":true}' })
          : fetch(`${url}/authorize`);
      const ok = await request.then(
        async (response) => {
          await response.arrayBuffer();
          return true;
        },
        () => false
      );
      if (!ok) return;
      served++;
    }
  };
  const done = Promise.all(Array.from({ length: workers }, (_, i) => loop(i))).then(() => {});
  return { served: () => served, done };
}

/**
 * Starts the sandbox `via` npm or its start script, puts it under load, and sends SIGINT to its process
 * group; with `relay`, once more to the sandbox's process as soon as it says it is stopping, as a parent
 * that forwards signals (npm, tsx) does.
 */
async function stopUnderLoad(via: 'script' | 'npm', relay = false) {
  const sandbox = spawnSandbox(
    { PORT: String(await freePort()), REFRESH_INTERVAL_MS: '0' },
    { via }
  );
  running.push(sandbox);
  const url = (await sandbox.waitFor(READY))[1] as string;
  const traffic = load(url, 64);
  await sandbox.waitFor(/POST \/local\/token 200[\s\S]*GET \/authorize 200/);
  const pid = sandbox.sandboxPid();
  const exit = sandbox.stopGroup('SIGINT');
  if (relay) {
    await sandbox.waitFor(/SIGINT received, stopping/);
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      // it has already stopped
    }
  }
  await traffic.done;
  return { sandbox, exit: await exit, served: traffic.served() };
}

describe('Ctrl-C with requests in flight', () => {
  it('npm start: SIGINT to the process group (npm relays it too) exits 0 after a clean stop', async () => {
    const { sandbox, exit, served } = await stopUnderLoad('npm');
    expect(served).toBeGreaterThan(0);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(sandbox.stdout()).toContain('sandbox: SIGINT received, stopping');
    expect(sandbox.stdout()).toContain('sandbox: stopped');
    expect(sandbox.stderr()).not.toMatch(/again|did not stop|stopping failed/);
  });

  it('the start script: SIGINT to the process group, then relayed to the process, exits 0', async () => {
    const { sandbox, exit } = await stopUnderLoad('script', true);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(sandbox.stdout()).toContain('sandbox: stopped');
  });
});
