import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * The loopback address the sandbox's WeChat calls leave from, as the deployed service's leave from the
 * NAT's Elastic IP: the simulator whitelists only this one (protocol §7.1), so a caller calling it
 * directly (from 127.0.0.1) meets 61004, and the same call through call-wechat works.
 */
export const SANDBOX_EGRESS_IP = '127.0.0.2';

/**
 * A `fetch` whose connections leave from `localAddress` (Node's global `fetch` cannot choose its source
 * address). Enough of `fetch` for the service's WeChat clients: a method, headers, a string or byte body,
 * an abort signal, and the answer read as text or bytes.
 */
export function egressFetch(localAddress: string): typeof fetch {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const headers = new Headers(init?.headers);
      const body = init?.body;
      const payload =
        body === undefined || body === null
          ? undefined
          : typeof body === 'string'
            ? Buffer.from(body)
            : body instanceof Uint8Array
              ? Buffer.from(body)
              : undefined;
      if (body != null && payload === undefined) {
        reject(new TypeError('egressFetch sends only string or byte bodies'));
        return;
      }
      const signal = init?.signal ?? undefined;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const outgoing = send(
        url,
        {
          method: init?.method ?? 'GET',
          localAddress,
          headers: {
            ...Object.fromEntries(headers),
            ...(payload ? { 'content-length': String(payload.length) } : {}),
          },
          ...(signal ? { signal } : {}),
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('error', reject);
          incoming.on('end', () => {
            const answerHeaders = new Headers();
            for (const [name, value] of Object.entries(incoming.headers)) {
              if (value !== undefined) answerHeaders.set(name, String(value));
            }
            const status = incoming.statusCode ?? 502;
            const bytes = Buffer.concat(chunks);
            resolve(
              new Response(status === 204 || status === 304 ? null : bytes, {
                status,
                headers: answerHeaders,
              })
            );
          });
        }
      );
      outgoing.on('error', (error) => reject(signal?.aborted ? signal.reason : error));
      outgoing.end(payload);
    });
}
