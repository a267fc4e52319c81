import type { LambdaClient } from '@aws-sdk/client-lambda';
import { invokeFunction, malformed } from './invoke.js';

/** A WeChat API's query string, without the token (the service adds it). Numbers and booleans as text. */
export type WeChatQuery = Readonly<Record<string, string | number | boolean>>;

/** Whose token the service puts on the call: a merchant's, or the platform's own (component APIs). */
export type WeChatCaller =
  | { authorizerAppId: string }
  | { component: true; tokenParam?: 'access_token' };

/** What call-wechat accepts (the service's `CallWeChatRequest`). */
export type CallWeChatRequest = WeChatCaller & {
  method: 'GET' | 'POST';
  /** WeChat's path, such as `/cgi-bin/menu/get`. */
  path: string;
  query?: WeChatQuery;
} & ({ body?: object } | { bodyBase64: string; contentType: string });

/**
 * WeChat's answer as call-wechat relays it. A JSON answer is in `body`, a binary one (an image, a file) in
 * `bytes`. WeChat's own `errcode`s are in `body`: they are WeChat's answer, not a failure of the client.
 */
export interface WeChatResponse {
  /** WeChat's HTTP status. */
  status: number;
  contentType: string;
  body?: unknown;
  bytes?: Uint8Array;
}

/** Calls to WeChat's API through call-wechat, made with a token the service adds. Nothing is cached. */
export interface WeChatApi {
  /** `GET path?query&access_token=…`. */
  get(path: string, query?: WeChatQuery): Promise<WeChatResponse>;
  /** `POST path?query&access_token=…` with `body` (a JSON object) as JSON. */
  post(path: string, body: object, query?: WeChatQuery): Promise<WeChatResponse>;
  /** `POST path?query&access_token=…` with `bytes` as the body, sent as `contentType`. */
  upload(
    path: string,
    bytes: Uint8Array,
    contentType: string,
    query?: WeChatQuery
  ): Promise<WeChatResponse>;
}

const FN = 'call-wechat';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** call-wechat's answer (after `readAnswer` took its errors out) as a `WeChatResponse`. */
export function readWeChatResponse(answer: Record<string, unknown>): WeChatResponse {
  const { status, contentType, body, bodyBase64 } = answer;
  if (typeof status !== 'number' || !Number.isInteger(status)) throw malformed(FN, 'no status');
  if (typeof contentType !== 'string') throw malformed(FN, 'no contentType');
  const response: WeChatResponse = { status, contentType };
  if (bodyBase64 !== undefined) {
    if (typeof bodyBase64 !== 'string' || !BASE64.test(bodyBase64)) {
      throw malformed(FN, 'a bodyBase64 that is not base64');
    }
    response.bytes = new Uint8Array(Buffer.from(bodyBase64, 'base64'));
  } else if (body !== undefined) {
    response.body = body;
  }
  return response;
}

/**
 * The `WeChatApi` for one caller (a merchant or the component), each call one invoke of call-wechat.
 * @throws TokenServiceError: the service's code (`invalid_request`, `payload_too_large` and get-token's), or
 *   the client's own (`function_error`, `timeout`, …), as for get-token.
 */
export function weChatApi(
  lambda: () => LambdaClient,
  functionName: string,
  caller: WeChatCaller,
  timeoutMs: number
): WeChatApi {
  const call = async (request: CallWeChatRequest) =>
    readWeChatResponse(await invokeFunction(lambda(), FN, functionName, request, timeoutMs));
  const withQuery = (query: WeChatQuery | undefined) => (query === undefined ? {} : { query });
  return {
    get: (path, query) => call({ ...caller, method: 'GET', path, ...withQuery(query) }),
    post: (path, body, query) =>
      call({ ...caller, method: 'POST', path, ...withQuery(query), body }),
    upload: (path, bytes, contentType, query) =>
      call({
        ...caller,
        method: 'POST',
        path,
        ...withQuery(query),
        bodyBase64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
          'base64'
        ),
        contentType,
      }),
  };
}
