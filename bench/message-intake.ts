import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { eventBridgePublisher } from '../functions/lib/event-bridge-publisher';
import { makeHandler } from '../functions/wechat-message';
import { MsgCrypto, sha1Signature } from '../shared/crypto/msg-crypto';
import type { EventPublisher } from '../shared/events/publisher';
import { type WechatMessageEvent, wechatMessageEvent } from '../shared/events/wechat-message-event';
import { readWechatMessage } from '../shared/messages/read-wechat-message';
import {
  RECENT_PUSHES_KEPT,
  RETRY_WINDOW_MS,
  RecentPushes,
} from '../shared/messages/recent-pushes';
import { EVENT_PUBLISH_TIMEOUT_MS } from '../shared/policy';
import { startDynaliteProcess } from './dynamo';
import { benchDeps, COMPONENT_APPID, countingLog, SECRET, seedAuthorizer } from './fixture';
import { alternate, type Check, round, type Summary, summarize, time } from './stats';

/** The authorized account whose fans write (a valid appid, seeded as an active authorization). */
const AUTHORIZER = 'wxbenchmerchant0003';
/** Its original id (`gh_…`), the envelope's `ToUserName`. */
const ORIGINAL_ID = 'gh_0b3c5d7e9f11';
const BUS_NAME = 'bench-bus';
/** What fans write: short texts, Chinese and Latin, as a busy account's inbox has them. */
const TEXTS = [
  '你好，请问今天门店几点关门？',
  '我的订单 20240611123456 还没有发货，麻烦帮忙查一下，谢谢！',
  'hi',
  '想预约周六下午两点，两位，可以吗？',
  'Is the winter menu available for delivery?',
];
/** The intake's own work (middy, checks, parse) may add this much to decrypt + one publish, at the median. */
const MAX_INTAKE_RATIO = 1.3;
/** A retry this container published: everything but the publish, so below one decrypt + publish. */
const MAX_DUPLICATE_RATIO = 1;

/** One text message as WeChat delivers it to `…/wechat/messages/{appid}`, and the event it becomes. */
interface Push {
  /** The decrypted payload (sealed afresh for a retry, as WeChat does). */
  xml: string;
  query: { timestamp: string; nonce: string; msgSignature: string; signature: string };
  encrypt: string;
  /** The API Gateway HTTP API (payload v2) event the Lambda receives. */
  event: APIGatewayProxyEventV2;
  /** What the intake puts on the bus for it (built up front for the baseline's publish). */
  busEvent: WechatMessageEvent;
}

const cdata = (value: string) => `<![CDATA[${value}]]>`;

/** A fan's openid: 28 URL-safe characters, as WeChat's are. */
const openidOf = (fan: number) =>
  `o${Buffer.from(`bench-fan-${fan}`).toString('base64url').padEnd(27, 'A').slice(0, 27)}`;

function textMessageXml(msgId: number, fan: number, createTimeSeconds: number): string {
  return (
    `<xml><ToUserName>${cdata(ORIGINAL_ID)}</ToUserName>` +
    `<FromUserName>${cdata(openidOf(fan))}</FromUserName>` +
    `<CreateTime>${createTimeSeconds}</CreateTime><MsgType>${cdata('text')}</MsgType>` +
    `<Content>${cdata(TEXTS[msgId % TEXTS.length] as string)}</Content><MsgId>${msgId}</MsgId></xml>`
  );
}

/** Seals `xml` as one delivery: fresh nonce and ciphertext, the signed query, the envelope, the event. */
function seal(sealer: MsgCrypto, xml: string, createTimeSeconds: number): Push {
  const sealed = sealer.encrypt(xml, { timestamp: String(createTimeSeconds) });
  const message = readWechatMessage(xml);
  const openid = message.FromUserName;
  const query = {
    signature: sha1Signature(SECRET.token, sealed.timestamp, sealed.nonce),
    timestamp: sealed.timestamp,
    nonce: sealed.nonce,
    openid,
    encrypt_type: 'aes',
    msg_signature: sealed.msgSignature,
  };
  const rawPath = `/wechat/messages/${AUTHORIZER}`;
  const at = Date.now();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: 'POST /wechat/messages/{appid}',
    rawPath,
    rawQueryString: new URLSearchParams(query).toString(),
    headers: {
      'content-type': 'text/xml',
      host: 'events.example.com',
      'user-agent': 'Mozilla/4.0',
      'x-forwarded-proto': 'https',
    },
    queryStringParameters: query,
    pathParameters: { appid: AUTHORIZER },
    body: `<xml><ToUserName>${cdata(ORIGINAL_ID)}</ToUserName><Encrypt>${cdata(sealed.encrypt)}</Encrypt></xml>`,
    isBase64Encoded: false,
    requestContext: {
      accountId: 'bench',
      apiId: 'bench',
      domainName: 'events.example.com',
      domainPrefix: 'events',
      http: {
        method: 'POST',
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '101.226.103.1',
        userAgent: 'Mozilla/4.0',
      },
      requestId: 'bench',
      routeKey: 'POST /wechat/messages/{appid}',
      stage: '$default',
      time: new Date(at).toUTCString(),
      timeEpoch: at,
    },
  };
  return {
    xml,
    query: {
      timestamp: sealed.timestamp,
      nonce: sealed.nonce,
      msgSignature: sealed.msgSignature,
      signature: query.signature,
    },
    encrypt: sealed.encrypt,
    event,
    busEvent: wechatMessageEvent(COMPONENT_APPID, AUTHORIZER, message),
  };
}

/** A local PutEvents endpoint answering as EventBridge does; counts the entries it accepted. */
async function startPutEventsServer(): Promise<{
  url: string;
  entries: () => number;
  close(): Promise<void>;
}> {
  let accepted = 0;
  let next = 0;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = request.headers['x-amz-target'];
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
        Entries?: unknown[];
      };
      if (target !== 'AWSEvents.PutEvents' || !Array.isArray(body.Entries)) {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify({ __type: 'ValidationException', message: 'bench' }));
        return;
      }
      accepted += body.Entries.length;
      const answer = JSON.stringify({
        Entries: body.Entries.map(() => ({
          EventId: `00000000-0000-4000-8000-${(next++).toString(16).padStart(12, '0')}`,
        })),
        FailedEntryCount: 0,
      });
      response.writeHead(200, {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': Buffer.byteLength(answer),
        'x-amzn-requestid': 'bench',
      });
      response.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    entries: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The other design for dropping duplicates, bench-only: before each publish, one conditional `PutItem` of
 * a key derived from the message id (`attribute_not_exists`), so that a retry landing on any container
 * finds the key and is not published again. Counts the writes that landed and those refused.
 */
function claimingPublisher(
  inner: EventPublisher,
  doc: DynamoDBDocumentClient,
  tableName: string
): EventPublisher & { claimed: number; refused: number } {
  const publisher = {
    claimed: 0,
    refused: 0,
    async publish(events: Parameters<EventPublisher['publish']>[0]) {
      const fresh = [];
      for (const event of events) {
        try {
          await doc.send(
            new PutCommand({
              TableName: tableName,
              Item: {
                pk: `MESSAGE#${COMPONENT_APPID}#${event.id}`,
                ttl: Math.ceil((Date.now() + RETRY_WINDOW_MS) / 1000),
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            })
          );
          publisher.claimed += 1;
          fresh.push(event);
        } catch (error) {
          if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
          publisher.refused += 1;
        }
      }
      return fresh.length ? inner.publish(fresh) : { failed: [] };
    },
  };
  return publisher;
}

/**
 * Median microseconds per call of `fn`, called back to back: on a shared machine the mean of a tight loop
 * mostly measures the other processes' time slices.
 */
async function medianMicros(
  fn: () => Promise<unknown>,
  options: { calls: number; warmup: number }
): Promise<number> {
  for (let i = 0; i < options.warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < options.calls; i++) samples.push(await time(fn));
  return summarize(samples).median * 1000;
}

/** `gc()`, exposed at run time (the bench runs without `--expose-gc`); undefined if V8 refuses. */
function exposedGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

/**
 * Heap a container's `RecentPushes` holds at its cap: the map and the ids it keeps (32 hex characters, as
 * the intake records them; in the intake they would otherwise be garbage with their event).
 */
function recentPushesHeapAtCap(): number | undefined {
  const gc = exposedGc();
  if (!gc) return undefined;
  gc();
  const before = process.memoryUsage().heapUsed;
  const recent = new RecentPushes();
  const at = Date.now();
  let last = '';
  for (let i = 0; i < RECENT_PUSHES_KEPT; i++) {
    last = randomBytes(16).toString('hex');
    recent.add(last, at);
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  if (!recent.has(last, at)) throw new Error('message-intake bench: RecentPushes lost an id');
  return after - before;
}

export interface MessageIntakeResult {
  iterations: number;
  warmup: number;
  block: number;
  /** The whole handler for a new text message: verify, decrypt, parse, known check, publish. */
  intake: Summary;
  /** `MsgCrypto.decrypt` of one sealed push + one publish through `eventBridgePublisher`. */
  baseline: Summary;
  ratio: { median: number; p99: number };
  /** The handler for a retry this container already published (resealed, as WeChat delivers it). */
  duplicate: Summary;
  baselineForDuplicate: Summary;
  duplicateRatio: { median: number; p99: number };
  /** The intake plus one conditional `PutItem` per push (the cross-container design), against the intake. */
  intakeWithWrite: Summary;
  intakeForWrite: Summary;
  writeRatio: { median: number; p99: number };
  /** What the write adds at the median, in ms. */
  writeAddsMedianMs: number;
  /** Median per push (µs) with the bus answered from memory: the intake's own work, and decrypt alone. */
  intakeWithoutIoMicros: number;
  decryptMicros: number;
  /** Heap of one container's `RecentPushes` at its cap of ids (bytes); undefined without gc. */
  recentPushesHeapBytes: number | undefined;
  recentPushesKept: number;
  checks: Check[];
}

/**
 * The message intake (`POST /wechat/messages/{appid}`, `functions/wechat-message.ts`'s `makeHandler` on
 * `createDeps`) against its irreducible work done by hand: `MsgCrypto.decrypt` of one sealed push and one
 * publish through the real `eventBridgePublisher` and `EventBridgeClient`, whose endpoint is a local
 * PutEvents server. Also a retry the container already published (dropped in memory), and the other design,
 * one conditional `PutItem` per push on dynalite, to show what a write per push costs
 * (`shared/messages/recent-pushes.ts`).
 */
export async function benchMessageIntake(
  options: { iterations?: number; warmup?: number; block?: number } = {}
): Promise<MessageIntakeResult> {
  const iterations = options.iterations ?? 1000;
  const warmup = options.warmup ?? 100;
  const block = options.block ?? 10;
  const dynamo = await startDynaliteProcess();
  const bus = await startPutEventsServer();
  const client = new EventBridgeClient({
    endpoint: bus.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    // As `eventBridgePublisher` builds its own in Lambda.
    maxAttempts: 2,
    requestHandler: {
      requestTimeout: EVENT_PUBLISH_TIMEOUT_MS,
      connectionTimeout: EVENT_PUBLISH_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  });
  try {
    const tableName = await dynamo.createTable('bench-messages');
    await seedAuthorizer(dynamo.doc, tableName, AUTHORIZER);
    const publisher = eventBridgePublisher({ busName: BUS_NAME, client });
    const log = countingLog();
    const outcomes = new Map<string, number>();
    const debug = log.debug;
    log.debug = (message, fields = {}) => {
      if (message === 'message handled') {
        const outcome = String(fields.outcome);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      debug(message, fields);
    };
    const base = { tableName, dynamoDbEndpoint: dynamo.endpoint, dynamo: dynamo.doc, log };
    // One Deps per handler, as one container has: the intake keeps its memory (the known-authorizer cache,
    // the recent pushes) per Deps.
    const deps = benchDeps({ ...base, events: publisher });
    const handler = makeHandler(() => Promise.resolve(deps));
    const claiming = claimingPublisher(publisher, dynamo.doc, tableName);
    const depsWithWrite = benchDeps({ ...base, events: claiming });
    const withWrite = makeHandler(() => Promise.resolve(depsWithWrite));
    const context = {
      functionName: 'wechat-message',
      awsRequestId: 'bench',
      getRemainingTimeInMillis: () => 10_000,
    } as unknown as Context;
    const crypto = await deps.msgCrypto();

    // Sealed up front (encryption is WeChat's work): every variant takes the next one, so all see the same.
    const sealer = new MsgCrypto({
      token: SECRET.token,
      encodingAesKey: SECRET.encodingAesKey,
      appId: COMPONENT_APPID,
    });
    const perPhase = iterations + warmup;
    const firstMsgId = 3_000_000_000_000_000 + Math.floor(Math.random() * 1e9) * 1000;
    const createTime = Math.floor(Date.now() / 1000);
    const fresh = (count: number, from: number) =>
      Array.from({ length: count }, (_, i) =>
        seal(sealer, textMessageXml(firstMsgId + from + i, from + i, createTime), createTime)
      );
    const pushes = fresh(5 * perPhase, 0);
    let next = 0;
    const take = () => {
      const push = pushes[next++];
      if (!push) throw new Error('message-intake bench: ran out of sealed pushes');
      return push;
    };
    let bad = 0;
    const published: Push[] = [];

    const viaIntake = async () => {
      const push = take();
      const answer = await handler(push.event, context);
      if (answer.statusCode !== 200 || answer.body !== 'success') bad += 1;
      published.push(push);
    };
    const viaBaseline = async () => {
      const push = take();
      const plaintext = crypto.decrypt({ ...push.query, encrypt: push.encrypt });
      if (plaintext.length !== push.xml.length) bad += 1;
      const { failed } = await publisher.publish([push.busEvent]);
      if (failed.length) bad += 1;
    };
    const viaWrite = async () => {
      const push = take();
      const answer = await withWrite(push.event, context);
      if (answer.statusCode !== 200 || answer.body !== 'success') bad += 1;
    };

    // 1. A new message through the intake, against decrypt + publish.
    let entries = bus.entries();
    const first = await alternate({ a: viaIntake, b: viaBaseline, iterations, warmup, block });
    if (bus.entries() - entries !== 2 * perPhase) bad += 1;

    // 2. WeChat's retry of a message this container published: the same payload, sealed afresh.
    const retries = published
      .slice(-perPhase)
      .map((push) => seal(sealer, push.xml, Number(push.query.timestamp)));
    let r = 0;
    const viaDuplicate = async () => {
      const retry = retries[r++] as Push;
      const answer = await handler(retry.event, context);
      if (answer.statusCode !== 200 || answer.body !== 'success') bad += 1;
    };
    entries = bus.entries();
    const second = await alternate({ a: viaDuplicate, b: viaBaseline, iterations, warmup, block });
    // Only the baseline's publishes reached the bus: every retry was dropped (within RETRY_WINDOW_MS).
    if (bus.entries() - entries !== perPhase) bad += 1;

    // 3. The other design: a conditional write per push before the publish, against the intake alone.
    entries = bus.entries();
    const third = await alternate({ a: viaWrite, b: viaIntake, iterations, warmup, block });
    if (bus.entries() - entries !== 2 * perPhase) bad += 1;
    if (claiming.claimed !== perPhase || claiming.refused !== 0) bad += 1;

    const duplicates = outcomes.get('duplicate') ?? 0;
    const publishedCount = outcomes.get('published') ?? 0;
    if (
      bad > 0 ||
      duplicates !== perPhase ||
      publishedCount !== 3 * perPhase ||
      log.errors.length
    ) {
      throw new Error(
        `message-intake bench: ${bad} bad answers or counts; outcomes ${JSON.stringify([...outcomes])} ` +
          `(expected ${3 * perPhase} published, ${perPhase} duplicate: a retry later than ${RETRY_WINDOW_MS} ms ` +
          `after its first delivery is published again); ` +
          `errors ${JSON.stringify(log.errors.slice(0, 3))}`
      );
    }

    // The intake's own work: the bus answered from memory (the authorizer cached, as in every run above).
    const inMemory: EventPublisher = { publish: async () => ({ failed: [] }) };
    const depsWithoutIo = benchDeps({ ...base, events: inMemory });
    const withoutIo = makeHandler(() => Promise.resolve(depsWithoutIo));
    const calls = 2000;
    const spare = fresh(calls + 300, pushes.length);
    let s = 0;
    const intakeWithoutIoMicros = await medianMicros(
      () => withoutIo((spare[s++] as Push).event, context),
      { calls, warmup: 300 }
    );
    let d = 0;
    const decryptMicros = await medianMicros(
      async () => {
        const push = spare[d++ % spare.length] as Push;
        crypto.decrypt({ ...push.query, encrypt: push.encrypt });
      },
      { calls, warmup: 300 }
    );
    const recentPushesHeapBytes = recentPushesHeapAtCap();

    const intake = summarize(first.a);
    const baseline = summarize(first.b);
    const duplicate = summarize(second.a);
    const baselineForDuplicate = summarize(second.b);
    const intakeWithWrite = summarize(third.a);
    const intakeForWrite = summarize(third.b);
    const ratioOf = (a: Summary, b: Summary) => ({
      median: round(a.median / b.median),
      p99: round(a.p99 / b.p99),
    });
    const ratio = ratioOf(intake, baseline);
    const duplicateRatio = ratioOf(duplicate, baselineForDuplicate);
    const writeRatio = ratioOf(intakeWithWrite, intakeForWrite);
    const writeAddsMedianMs = round(intakeWithWrite.median - intakeForWrite.median, 2);
    return {
      iterations,
      warmup,
      block,
      intake,
      baseline,
      ratio,
      duplicate,
      baselineForDuplicate,
      duplicateRatio,
      intakeWithWrite,
      intakeForWrite,
      writeRatio,
      writeAddsMedianMs,
      intakeWithoutIoMicros: round(intakeWithoutIoMicros, 2),
      decryptMicros: round(decryptMicros, 2),
      recentPushesHeapBytes,
      recentPushesKept: RECENT_PUSHES_KEPT,
      checks: [
        {
          benchmark: 'message-intake',
          metric: 'median intake / (decrypt + PutEvents)',
          value: ratio.median,
          target: `≤ ${MAX_INTAKE_RATIO}`,
          ok: ratio.median <= MAX_INTAKE_RATIO,
          note: `p99 ${ratio.p99}`,
        },
        {
          benchmark: 'message-intake',
          metric: 'median duplicate (dropped in memory) / (decrypt + PutEvents)',
          value: duplicateRatio.median,
          target: `< ${MAX_DUPLICATE_RATIO}`,
          ok: duplicateRatio.median < MAX_DUPLICATE_RATIO,
          note: `p99 ${duplicateRatio.p99}`,
        },
        {
          benchmark: 'message-intake',
          metric: 'median (intake + conditional PutItem per push) / intake',
          value: writeRatio.median,
          target: 'reported',
          ok: true,
          note: `p99 ${writeRatio.p99}; the write adds ${writeAddsMedianMs} ms per push (the design not taken)`,
        },
      ],
    };
  } finally {
    client.destroy();
    await bus.close();
    await dynamo.close();
  }
}
