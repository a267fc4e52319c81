import { WechatUnavailableError } from '../errors';

/**
 * One call a caller asked us to make to WeChat, its credential already in `query`. The path is one
 * `parseWechatCallRequest` accepted: the host is never the caller's.
 */
export interface RelayRequest {
  method: 'GET' | 'POST';
  path: string;
  query: Readonly<Record<string, string>>;
  body?: { json: unknown } | { base64: string; contentType: string };
}

/**
 * WeChat's answer as it came: JSON answers parsed into `body` (with their `errcode`, 0 when absent), any
 * other content (a media file, a mini-program code image) as `bodyBase64`.
 */
export interface RelayAnswer {
  status: number;
  contentType: string;
  body?: unknown;
  bodyBase64?: string;
  /** WeChat's errcode of a JSON answer (0 when it has none); undefined for binary answers. */
  errcode?: number;
}

/**
 * Sends callers' WeChat calls from our egress (the NAT's whitelisted Elastic IP: protocol §7.1, §11.13).
 * One attempt per call: callers' POSTs are not all idempotent (a message sent twice is two messages), so a
 * lost answer is the caller's to judge.
 */
export interface WechatRelay {
  send(request: RelayRequest, budgetMs: number): Promise<RelayAnswer>;
}

export interface HttpWechatRelayOptions {
  /** WeChat origin, `https://api.weixin.qq.com` in production. */
  baseUrl: string;
  /** Longest wait for one answer; the invocation's budget may cut it shorter. */
  timeoutMs: number;
  fetch?: typeof fetch;
}

/** The relay answers' JSON content types (WeChat sends `application/json` and, on some APIs, `text/plain`). */
const JSON_TYPES = /^(application\/json|text\/plain|text\/json)\b/i;

/** The real relay over `fetch`. */
export class HttpWechatRelay implements WechatRelay {
  readonly #options: HttpWechatRelayOptions;
  readonly #fetch: typeof fetch;

  constructor(options: HttpWechatRelayOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
  }

  async send(request: RelayRequest, budgetMs: number): Promise<RelayAnswer> {
    const endpoint = `${this.#options.baseUrl}${request.path}`;
    const url = `${endpoint}?${new URLSearchParams(request.query as Record<string, string>)}`;
    const timeoutMs = Math.floor(Math.min(this.#options.timeoutMs, budgetMs));
    if (timeoutMs <= 0) {
      throw new WechatUnavailableError(request.path, 'no time left before the deadline', {
        uncertain: false,
        url: endpoint,
      });
    }
    const body = request.body;
    let response: Response;
    let bytes: Buffer;
    try {
      response = await this.#fetch(url, {
        method: request.method,
        ...(body === undefined
          ? {}
          : 'json' in body
            ? {
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify(body.json),
              }
            : {
                headers: { 'content-type': body.contentType },
                body: Buffer.from(body.base64, 'base64'),
              }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      bytes = Buffer.from(await response.arrayBuffer());
    } catch (error) {
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw new WechatUnavailableError(
        request.path,
        timedOut ? `no answer within ${timeoutMs} ms` : 'connection failed',
        { cause: error, url: endpoint }
      );
    }
    const contentType = response.headers.get('content-type') ?? 'application/octet-stream';
    if (JSON_TYPES.test(contentType)) {
      try {
        const json: unknown = JSON.parse(bytes.toString('utf8'));
        const errcode =
          json && typeof json === 'object' && 'errcode' in json
            ? Number((json as { errcode: unknown }).errcode)
            : 0;
        return { status: response.status, contentType, body: json, errcode };
      } catch {
        // Not JSON after all: handed over as it came.
      }
    }
    return { status: response.status, contentType, bodyBase64: bytes.toString('base64') };
  }
}
