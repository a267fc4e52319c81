import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';

/** The Lambda client the client-package tests hand to `createTokenClient`, mocked, and what it was sent. */

export const GET_TOKEN = 'wechat-token-service-get-token';
export const CALL_WECHAT = 'wechat-token-service-call-wechat';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes as the SDK hands them out (a Uint8Array subclass; the client reads only the bytes). */
export const blob = (bytes: Uint8Array) => bytes as InvokeCommandOutput['Payload'];
export const payload = (value: unknown) => blob(encoder.encode(JSON.stringify(value)));
export const errorAnswer = (code: string) =>
  payload({ error: { code, message: `${code} happened` } });

export const lambda = new LambdaClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
export const lambdaMock = mockClient(lambda);

/** Each invoke's function name and parsed payload, in order. */
export const sent = () =>
  lambdaMock.commandCalls(InvokeCommand).map((call) => ({
    functionName: call.args[0].input.FunctionName,
    request: JSON.parse(decoder.decode(call.args[0].input.Payload as Uint8Array)),
  }));

/** A rejection's value, so that it can be matched field by field. */
export const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error
  );
