import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalEventEnvelope, LocalEventPage } from '../../local/local-events';
import { type Sandbox, startSandbox } from '../../local/sandbox';
import { readSandboxSettings } from '../../local/sandbox-settings';
import { kindsFor, MESSAGE_KINDS, type MessageKindName } from '../../local/simulator/message-kinds';
import type { WechatMessageEvent } from '../../shared/events/wechat-message-event';
import { silentLog } from '../../shared/log';

const OFFICIAL = 'wx1234567890abcdef';
const MINI = 'wx2234567890abcdef';

/** The sandbox with its simulator, as `npm start` runs it, over real HTTP. */
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox(
    readSandboxSettings({ PORT: '0', REFRESH_INTERVAL_MS: '0' }),
    silentLog
  );
  const simulator = sandbox.simulator!;
  await simulator.pushAuthorized(OFFICIAL, { funcIds: [1, 15] });
  await simulator.pushAuthorized(MINI, { funcIds: [17, 18], accountType: 'mini_program' });
});
afterAll(() => sandbox.close());

async function busMessages(): Promise<LocalEventEnvelope[]> {
  const response = await fetch(`${sandbox.url}/local/events`);
  const { events: all } = (await response.json()) as LocalEventPage;
  return all.filter((e) => e['detail-type'].startsWith('wechat.'));
}

describe('messages and events of authorized accounts, simulator → service → bus', () => {
  const kinds = (Object.keys(MESSAGE_KINDS) as MessageKindName[]).map((name) => [name] as const);

  it.each(kinds)(
    '%s reaches the bus with WeChat’s fields, by the time WeChat has its answer',
    async (name) => {
      const simulator = sandbox.simulator!;
      const appId = kindsFor('official_account').includes(name) ? OFFICIAL : MINI;
      const before = (await busMessages()).length;
      const fields = MESSAGE_KINDS[name].build({
        nextMsgId: () => Date.now() * 1000 + Math.floor(Math.random() * 1000),
        random: Math.random,
        nowSeconds: Math.floor(sandbox.now() / 1000),
      });
      const record = await simulator.sendMessage(appId, fields);
      expect(record).toMatchObject({ status: 200, answer: 'empty' });
      const published = (await busMessages()).slice(before);
      expect(published).toHaveLength(1);
      const envelope = published[0] as LocalEventEnvelope;
      const detail = envelope.detail as WechatMessageEvent;
      expect(envelope['detail-type']).toBe(
        fields.MsgType === 'event' ? 'wechat.event' : 'wechat.message'
      );
      expect(detail).toMatchObject({ authorizerAppId: appId, msgType: fields.MsgType });
      const sent = JSON.parse(JSON.stringify(fields), (_k, v) =>
        typeof v === 'number' ? String(v) : v
      );
      expect(detail.message).toMatchObject({
        ...sent,
        FromUserName: record.openid,
        ToUserName: record.userName,
      });
    }
  );

  it('publishes a push whose answer WeChat lost once, however many times WeChat delivers it', async () => {
    const simulator = sandbox.simulator!;
    const before = await busMessages();
    simulator.loseNextMessageAnswers(1);
    const record = await simulator.sendMessage(OFFICIAL, { MsgType: 'text', Content: 'again' });
    await simulator.flushMessages();
    const deliveries = simulator.messages.filter((m) => m.msgId === record.msgId);
    expect(deliveries.length).toBeGreaterThanOrEqual(2);
    const published = (await busMessages()).slice(before.length);
    expect(published.map((e) => (e.detail as WechatMessageEvent).message.Content)).toEqual([
      'again',
    ]);
  });

  it('POST /local/messages sends a mix; each is answered, and each distinct push published once', async () => {
    const simulator = sandbox.simulator!;
    const before = (await busMessages()).length;
    const sentBefore = simulator.messages.length;
    const answer = await fetch(`${sandbox.url}/local/messages`, {
      method: 'POST',
      body: '{"count":8}',
    });
    const { sent } = (await answer.json()) as { sent: { status: number; answer: string }[] };
    expect(sent).toHaveLength(8);
    expect(sent.every((m) => m.status === 200 && m.answer === 'empty')).toBe(true);
    // Two identical events of one fan in one second are one push by WeChat's rule (FromUserName +
    // CreateTime): the simulator's random mix, drawing from a few fans, can draw such a pair.
    const earlier = new Set(
      simulator.messages.slice(0, sentBefore).map((m) => `${m.authorizerAppId} ${m.xml}`)
    );
    const distinct = new Set(
      simulator.messages
        .slice(sentBefore)
        .map((m) => `${m.authorizerAppId} ${m.xml}`)
        .filter((push) => !earlier.has(push))
    );
    expect((await busMessages()).length - before).toBe(distinct.size);
  });
});

describe('WeChat’s release check (全网发布接入检测) against the sandbox', () => {
  it('passes every step, run the way the console runs it', async () => {
    const answer = await fetch(`${sandbox.wechat.url}/simulator/release-check`, { method: 'POST' });
    const report = (await answer.json()) as {
      passed: boolean;
      steps: { name: string; passed: boolean; detail: string }[];
    };
    expect(report.steps.filter((step) => !step.passed)).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.steps.length).toBeGreaterThanOrEqual(9);
  });

  it('no automatic reply reaches a real account: its customer-service log stays empty', () => {
    const custom = sandbox.simulator!.state.customMessages;
    expect(
      custom.filter((m) => m.authorizerAppId === OFFICIAL || m.authorizerAppId === MINI)
    ).toEqual([]);
  });
});
