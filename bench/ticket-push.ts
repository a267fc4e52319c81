import { randomBytes } from 'node:crypto';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { makeHandler } from '../functions/auth-event';
import { MsgCrypto, sha1Signature } from '../shared/crypto/msg-crypto';
import { DynamoDbTokenStore } from '../shared/store/dynamodb-token-store';
import { startDynaliteProcess } from './dynamo';
import { benchDeps, COMPONENT_APPID, countingLog, SECRET } from './fixture';
import { alternate, type Check, microsPerCall, round, type Summary, summarize } from './stats';

const HOUR_S = 3600;
const TICKET_TTL_MS = 12 * HOUR_S * 1000;
const RETENTION_S = 7 * 24 * HOUR_S;

/** One encrypted `component_verify_ticket` push, as WeChat sends it, and what is inside. */
interface Push {
  createTime: number;
  ticket: string;
  query: { timestamp: string; nonce: string; msgSignature: string; signature: string };
  encrypt: string;
  envelope: string;
}

const cdata = (value: string) => `<![CDATA[${value}]]>`;

function sealPush(crypto: MsgCrypto, createTimeSeconds: number): Push {
  const ticket = `ticket@@@${randomBytes(64).toString('base64url')}`;
  const xml =
    `<xml><AppId>${cdata(COMPONENT_APPID)}</AppId><CreateTime>${createTimeSeconds}</CreateTime>` +
    `<InfoType>${cdata('component_verify_ticket')}</InfoType>` +
    `<ComponentVerifyTicket>${cdata(ticket)}</ComponentVerifyTicket></xml>`;
  const sealed = crypto.encrypt(xml, { timestamp: String(createTimeSeconds) });
  return {
    createTime: createTimeSeconds * 1000,
    ticket,
    query: {
      timestamp: sealed.timestamp,
      nonce: sealed.nonce,
      msgSignature: sealed.msgSignature,
      signature: sha1Signature(SECRET.token, sealed.timestamp, sealed.nonce),
    },
    encrypt: sealed.encrypt,
    envelope: `<xml><AppId>${cdata(COMPONENT_APPID)}</AppId><Encrypt>${cdata(sealed.encrypt)}</Encrypt></xml>`,
  };
}

/** The API Gateway HTTP API (payload v2) event for `POST /wechat/events`, as the Lambda receives it. */
function toEvent(push: Push): APIGatewayProxyEventV2 {
  const query = {
    signature: push.query.signature,
    timestamp: push.query.timestamp,
    nonce: push.query.nonce,
    encrypt_type: 'aes',
    msg_signature: push.query.msgSignature,
  };
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: 'POST /wechat/events',
    rawPath: '/wechat/events',
    rawQueryString: new URLSearchParams(query).toString(),
    headers: {
      'content-type': 'text/xml',
      host: 'events.example.com',
      'user-agent': 'Mozilla/4.0',
      'x-forwarded-proto': 'https',
    },
    queryStringParameters: query,
    body: push.envelope,
    isBase64Encoded: false,
    requestContext: {
      accountId: 'bench',
      apiId: 'bench',
      domainName: 'events.example.com',
      domainPrefix: 'events',
      http: {
        method: 'POST',
        path: '/wechat/events',
        protocol: 'HTTP/1.1',
        sourceIp: '101.226.103.1',
        userAgent: 'Mozilla/4.0',
      },
      requestId: 'bench',
      routeKey: 'POST /wechat/events',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
  };
}

export interface TicketPushResult {
  iterations: number;
  warmup: number;
  block: number;
  /** What both variants write: every push carries a newer CreateTime, so every write lands. */
  writePath: string;
  handler: Summary;
  decryptPut: Summary;
  ratio: { median: number; p99: number };
  /** Per push (µs) with DynamoDB answered from memory: the handler's own work, and decrypt alone. */
  handlerWithoutIoMicros: number;
  decryptMicros: number;
  checks: Check[];
}

/**
 * The ticket push through the auth-event handler (`makeHandler`: middy + error path, then signature checks,
 * envelope parse, decrypt, payload parse, conditional `PutItem`) against a bare `MsgCrypto.decrypt` plus the
 * same conditional `PutItem` of the same item through the same client. Both variants take their pushes from
 * one sequence of increasing CreateTimes, so every write of both is a new ticket that lands.
 */
export async function benchTicketPush(
  options: { iterations?: number; warmup?: number; block?: number } = {}
): Promise<TicketPushResult> {
  const iterations = options.iterations ?? 3000;
  const warmup = options.warmup ?? 300;
  const block = options.block ?? 10;
  const dynamo = await startDynaliteProcess();
  try {
    const tableName = await dynamo.createTable('bench-ticket');
    const log = countingLog();
    const deps = benchDeps({
      tableName,
      dynamoDbEndpoint: dynamo.endpoint,
      dynamo: dynamo.doc,
      log,
    });
    const handler = makeHandler(() => Promise.resolve(deps));
    const context = { functionName: 'bench', awsRequestId: 'bench' } as unknown as Context;
    const crypto = await deps.msgCrypto();

    // Sealed up front (encryption is WeChat's work, not ours), oldest first; inside the 12 h ticket life.
    const total = 2 * (iterations + warmup);
    const firstCreateTime = Math.floor(Date.now() / 1000) - 11 * HOUR_S;
    const sealer = new MsgCrypto({
      token: SECRET.token,
      encodingAesKey: SECRET.encodingAesKey,
      appId: COMPONENT_APPID,
    });
    const pushes = Array.from({ length: total }, (_, i) => sealPush(sealer, firstCreateTime + i));
    const events = pushes.map(toEvent);
    let next = 0;
    let handled = 0;
    let bad = 0;

    const viaHandler = async () => {
      const event = events[next++] as APIGatewayProxyEventV2;
      const answer = await handler(event, context);
      handled += 1;
      if (answer.statusCode !== 200 || answer.body !== 'success') bad += 1;
    };
    const viaDecryptPut = async () => {
      const push = pushes[next++] as Push;
      const plaintext = crypto.decrypt({ ...push.query, encrypt: push.encrypt });
      if (!plaintext.includes(push.ticket)) bad += 1;
      await dynamo.doc.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            pk: `COMPONENT#${COMPONENT_APPID}#TICKET`,
            componentAppId: COMPONENT_APPID,
            ticket: push.ticket,
            createTime: push.createTime,
            receivedAt: Date.now(),
            ttl: Math.floor((push.createTime + TICKET_TTL_MS) / 1000) + RETENTION_S,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR createTime < :createTime',
          ExpressionAttributeValues: { ':createTime': push.createTime },
        })
      );
    };
    const samples = await alternate({ a: viaHandler, b: viaDecryptPut, iterations, warmup, block });
    const stored = log.counts.get('debug component_verify_ticket stored') ?? 0;
    if (bad > 0 || stored !== handled) {
      throw new Error(
        `ticket-push bench: ${bad} bad answers, ${stored} of ${handled} handler pushes stored`
      );
    }

    const inMemory = { send: async () => ({}) } as unknown as DynamoDBDocumentClient;
    const withoutIo = makeHandler(() =>
      Promise.resolve(
        benchDeps({
          tableName,
          dynamoDbEndpoint: dynamo.endpoint,
          store: new DynamoDbTokenStore(inMemory, tableName),
        })
      )
    );
    const sample = events.slice(0, 1000);
    let i = 0;
    const handlerWithoutIoMicros = await microsPerCall(
      () => withoutIo(sample[i++ % sample.length] as APIGatewayProxyEventV2, context),
      { calls: 20_000, warmup: 5_000 }
    );
    const decryptMicros = await microsPerCall(
      async () => {
        const push = pushes[i++ % sample.length] as Push;
        crypto.decrypt({ ...push.query, encrypt: push.encrypt });
      },
      { calls: 20_000, warmup: 5_000 }
    );

    const h = summarize(samples.a);
    const d = summarize(samples.b);
    const ratio = { median: round(h.median / d.median), p99: round(h.p99 / d.p99) };
    return {
      iterations,
      warmup,
      block,
      writePath:
        'every push (both variants) carries a newer CreateTime than the stored ticket: conditional PutItem that succeeds',
      handler: h,
      decryptPut: d,
      ratio,
      handlerWithoutIoMicros: round(handlerWithoutIoMicros, 2),
      decryptMicros: round(decryptMicros, 2),
      checks: [
        {
          benchmark: 'ticket-push',
          metric: 'median handler / (decrypt + PutItem)',
          value: ratio.median,
          target: '≤ 1.3',
          ok: ratio.median <= 1.3,
        },
        {
          benchmark: 'ticket-push',
          metric: 'p99 handler / (decrypt + PutItem)',
          value: ratio.p99,
          target: '≤ 1.3',
          ok: ratio.p99 <= 1.3,
        },
      ],
    };
  } finally {
    await dynamo.close();
  }
}
