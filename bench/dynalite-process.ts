/**
 * dynalite in its own process, for the benchmarks: the same server `local/local-dynamo.ts` runs
 * in process, moved out so its CPU and garbage collection do not land inside the measured process (DynamoDB
 * is remote in production too). Started by `startDynaliteProcess()`; reports its port over IPC.
 */
import type { AddressInfo } from 'node:net';
// @ts-expect-error dynalite ships no type declarations
import dynalite from 'dynalite';

const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
