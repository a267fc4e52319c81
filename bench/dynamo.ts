import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { createTokenTable, type LocalDynamo, localDynamoClients } from '../local/local-dynamo';

export interface BenchDynamo extends LocalDynamo {
  deleteTable(name: string): Promise<void>;
  /** CPU time the dynalite process has used so far (ms); undefined where /proc is not available. */
  cpuMs(): number | undefined;
}

/** utime + stime of another process from /proc (Linux), in ms. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5), counted from the state field (3rd) here; clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * dynalite (the sandbox's DynamoDB) in a child process, with the same client setup as
 * `startLocalDynamo()`: dummy credentials, 127.0.0.1 only. The child exits when this process goes.
 */
export async function startDynaliteProcess(): Promise<BenchDynamo> {
  const child = fork(fileURLToPath(new URL('./dynalite-process.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`dynalite exited early (${code})`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const { client, doc } = localDynamoClients(endpoint);
  return {
    endpoint,
    client,
    doc,
    cpuMs: () => processCpuMs(child.pid as number),
    createTable: (prefix = 'bench') => createTokenTable(client, prefix),
    async deleteTable(name) {
      await client.send(new DeleteTableCommand({ TableName: name }));
    },
    async close() {
      client.destroy();
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill();
      await exited;
    },
  };
}
