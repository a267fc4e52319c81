import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Small `node:http` helpers shared by the simulator's routes. */

const MAX_BODY_BYTES = 1 << 20;
/** WeChat's own content type for API answers. */
export const JSON_TYPE = 'application/json; encoding=utf-8';
export const HTML_TYPE = 'text/html; charset=utf-8';
export const TEXT_TYPE = 'text/plain; charset=utf-8';

/** An API answer that is not JSON: bytes and their content type (e.g. a mini program code's image). */
export class BinaryAnswer {
  constructor(
    readonly contentType: string,
    readonly body: Buffer
  ) {}
}

/** An API's answer: a JSON object, or bytes. */
export type Answer = object | BinaryAnswer;

/** Sends an API answer: bytes with their content type, anything else as JSON. */
export function sendAnswer(res: ServerResponse, status: number, answer: Answer): void {
  if (answer instanceof BinaryAnswer) send(res, status, answer.contentType, answer.body);
  else send(res, status, JSON_TYPE, JSON.stringify(answer));
}

/** Writes a whole answer unless the response is already gone. */
export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: OutgoingHttpHeaders = {}
): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

/** The request body as text; undefined when it exceeds 1 MB. */
export function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8'))
    );
    req.on('error', reject);
  });
}

export function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string
  );
}

/** A WeChat-looking HTML page. */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>
<body>
${body}
</body></html>
`;
}

/** An error's name and message (and its cause's message), never its stack. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.name}: ${error.message}${cause}`;
}
