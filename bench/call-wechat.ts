import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { makeHandler } from '../functions/call-wechat';
import { inLambda } from '../functions/lib/invoked';
import { startWechatSimulator } from '../local/simulator';
import { startDynaliteProcess } from './dynamo';
import { benchDeps, COMPONENT_APPID, SECRET, seedAuthorizer } from './fixture';
import { alternate, type Check, round, type Summary, summarize } from './stats';

const AUTHORIZER = 'wxbenchmerchant0002';
/**
 * The relay's work is one stored-token read and the call: against a caller doing the same two itself (a
 * GetItem, then the call), it may cost this much more at the median.
 */
const MAX_MEDIAN_RATIO = 1.3;

export interface CallWechatResult {
  iterations: number;
  warmup: number;
  block: number;
  /** call-wechat as Lambda runs it (middy, Powertools' context and metrics middlewares), in process. */
  relayed: Summary;
  /** The same WeChat call made straight to the simulator with the token in hand. */
  direct: Summary;
  ratio: { median: number; p99: number };
  /** The relay against its own work done by hand: one GetItem of the stored token, then the call. */
  readThenCall: Summary;
  workRatio: { median: number; p99: number };
  /** What the relay adds at the median, in ms (the caller's own Lambda invoke comes on top). */
  addedMedianMs: number;
  checks: Check[];
}

/**
 * A WeChat call through call-wechat against the same call made directly (docs/callers.md, "Calling WeChat"): the
 * relay reads the stored token (one GetItem on dynalite), sends the call from its egress and hands the
 * answer back. Both go to the same simulator, whose token check and answer are the same for both.
 */
export async function benchCallWechat(
  options: { iterations?: number; warmup?: number; block?: number } = {}
): Promise<CallWechatResult> {
  const iterations = options.iterations ?? 2000;
  const warmup = options.warmup ?? 200;
  const block = options.block ?? 10;
  const dynamo = await startDynaliteProcess();
  const simulator = await startWechatSimulator({
    componentAppId: COMPONENT_APPID,
    componentAppSecret: SECRET.componentAppSecret,
    token: SECRET.token,
    encodingAesKey: SECRET.encodingAesKey,
    ticketIntervalMs: 0,
  });
  try {
    simulator.authorize(AUTHORIZER);
    const tableName = await dynamo.createTable('bench-call-wechat');
    const deps = benchDeps({
      tableName,
      dynamoDbEndpoint: dynamo.endpoint,
      dynamo: dynamo.doc,
      wechatApiBaseUrl: simulator.url,
    });
    // The token WeChat (the simulator) issued, stored as a running service has it.
    const accessToken = simulator.renewElsewhere(AUTHORIZER);
    const { pk } = await seedAuthorizer(dynamo.doc, tableName, AUTHORIZER, Date.now(), accessToken);
    const handler = inLambda(makeHandler(() => Promise.resolve(deps)));
    const context = {
      getRemainingTimeInMillis: () => 30_000,
      functionName: 'call-wechat',
      awsRequestId: 'bench',
    } as unknown as Parameters<typeof handler>[1];
    const body = { cgi_path: '/cgi-bin/message/custom/send' };
    const event = { authorizerAppId: AUTHORIZER, path: '/cgi-bin/openapi/quota/get', body };
    let wrong = 0;
    const relayed = async () => {
      const answer = (await handler(event, context)) as { body?: { errcode?: number } };
      if (answer.body?.errcode !== 0) wrong += 1;
    };
    const direct = async () => {
      const answer = await fetch(
        `${simulator.url}/cgi-bin/openapi/quota/get?access_token=${encodeURIComponent(accessToken)}`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }
      );
      const json = (await answer.json()) as { errcode?: number };
      if (json.errcode !== 0) wrong += 1;
    };
    const readThenCall = async () => {
      await dynamo.doc.send(
        new GetCommand({ TableName: tableName, Key: { pk }, ConsistentRead: true })
      );
      await direct();
    };
    const samples = await alternate({ a: relayed, b: direct, iterations, warmup, block });
    const work = await alternate({ a: relayed, b: readThenCall, iterations, warmup, block });
    if (wrong > 0) throw new Error(`call-wechat bench: ${wrong} calls were not answered errcode 0`);
    const a = summarize(samples.a);
    const b = summarize(samples.b);
    const ratio = { median: round(a.median / b.median), p99: round(a.p99 / b.p99) };
    const w = { a: summarize(work.a), b: summarize(work.b) };
    const workRatio = {
      median: round(w.a.median / w.b.median),
      p99: round(w.a.p99 / w.b.p99),
    };
    return {
      iterations,
      warmup,
      block,
      relayed: a,
      direct: b,
      ratio,
      readThenCall: w.b,
      workRatio,
      addedMedianMs: round(a.median - b.median, 2),
      checks: [
        {
          benchmark: 'call-wechat',
          metric:
            'median through call-wechat (middy + Powertools) / GetItem + the same call by hand',
          value: workRatio.median,
          target: `≤ ${MAX_MEDIAN_RATIO}`,
          ok: workRatio.median <= MAX_MEDIAN_RATIO,
          note: `p99 ${workRatio.p99}; against the call alone ${ratio.median} (median), ${ratio.p99} (p99): the relay adds ${round(a.median - b.median, 2)} ms`,
        },
      ],
    };
  } finally {
    await simulator.close();
    await dynamo.close();
  }
}
