import { vi } from 'vitest';

/** Everything written to stdout, stderr or the global console while `run` runs. */
export async function captureOutput(run: () => Promise<void>): Promise<string> {
  const chunks: string[] = [];
  const keep = (chunk: unknown) => {
    chunks.push(
      typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8')
    );
    return true;
  };
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(keep);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(keep);
  const consoles = (['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((level) =>
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      keep(`${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`);
    })
  );
  try {
    await run();
  } finally {
    for (const spy of [stdout, stderr, ...consoles]) spy.mockRestore();
  }
  return chunks.join('');
}

/** One line a Lambda wrote: a Powertools log entry, an EMF metric record, or anything else (text). */
export type OutputLine =
  | { kind: 'log'; entry: Record<string, unknown> }
  | { kind: 'metric'; entry: Record<string, unknown> }
  | { kind: 'text'; text: string };

/** Splits captured output into lines and tells log entries from EMF metric records and plain text. */
export function parseOutput(output: string): OutputLine[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((text): OutputLine => {
      let entry: unknown;
      try {
        entry = JSON.parse(text);
      } catch {
        return { kind: 'text', text };
      }
      if (!entry || typeof entry !== 'object' || Array.isArray(entry))
        return { kind: 'text', text };
      const record = entry as Record<string, unknown>;
      if ('_aws' in record) return { kind: 'metric', entry: record };
      if (typeof record.level === 'string' && typeof record.message === 'string') {
        return { kind: 'log', entry: record };
      }
      return { kind: 'text', text };
    });
}

/** The Powertools log entries in captured output. */
export function logEntries(output: string): Record<string, unknown>[] {
  return parseOutput(output).flatMap((line) => (line.kind === 'log' ? [line.entry] : []));
}
