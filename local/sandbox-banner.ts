import { SANDBOX_EGRESS_IP } from './egress-fetch';
import type { Sandbox } from './sandbox';
import type { SandboxSettings } from './sandbox-settings';

/** What `npm start` prints once everything is up; the ready line (`listening on …`) comes last. */
export function startupLines(sandbox: Sandbox, settings: SandboxSettings): string[] {
  const secretNote = settings.generated.length
    ? ` (${settings.generated.join(', ')} generated for this run, not shown)`
    : '';
  const refresh = settings.refreshIntervalMs
    ? `also every ${settings.refreshIntervalMs / 1000} s on a timer`
    : 'timer off: REFRESH_INTERVAL_MS=0';
  const { store } = sandbox;
  const table = store.embedded
    ? `${store.tableName} in the embedded dynalite (in memory; DYNAMODB_ENDPOINT for another)`
    : `${store.tableName} at ${store.endpoint} (${store.created ? 'created' : 'existing'})`;
  const lines = [
    `WeChat token service sandbox, component appid ${settings.componentAppId}${secretNote}`,
    `  authorization page  ${sandbox.authorizePageUrl}`,
    `  event URL           ${sandbox.eventUrl}`,
    `  message URL         ${sandbox.messageUrl}`,
    `  token table         ${table}`,
  ];
  if (sandbox.wechat.simulated) {
    const tickets = settings.ticketIntervalMs
      ? `pushes a ticket every ${settings.ticketIntervalMs / 1000} s`
      : 'pushed one ticket at start';
    lines.push(
      `  WeChat simulator    ${sandbox.wechat.url} (${tickets}; whitelists only ${SANDBOX_EGRESS_IP}, the service's egress)`,
      `  revoke (simulator)  POST ${sandbox.wechat.url}/simulator/unauthorize?authorizer_appid=<appid>`,
      `  WeChat calls        GET ${sandbox.url}/local/wechat-calls`,
      `  fans' messages      POST ${sandbox.url}/local/messages {"count":5} (the simulator sends them to the message URL)`,
      `  release check       POST ${sandbox.wechat.url}/simulator/release-check (WeChat's 全网发布 check: pass/fail per step)`
    );
  } else {
    lines.push(`  WeChat (external)   ${sandbox.wechat.url} (it pushes tickets to the event URL)`);
  }
  lines.push(
    `  get a token         POST ${sandbox.url}/local/token {"authorizerAppId":"<appid>"} or {"component":true}`,
    `  call WeChat         aws lambda invoke --function-name call-wechat --endpoint-url ${sandbox.url} (its egress is whitelisted)`,
    `  scheduled refresh   POST ${sandbox.url}/local/refresh (${refresh})`,
    `  time travel         POST ${sandbox.url}/local/clock {"advanceMs":7200000} (GET: the sandbox's time)`,
    `  bus events          GET ${sandbox.url}/local/events (lifecycle events and messages, as EventBridge carries them)`,
    ...(settings.eventsWebhookUrl
      ? [`  events webhook      POST ${settings.eventsWebhookUrl} (each bus event, as JSON)`]
      : []),
    `  operations CLI      npx wechat-token status --endpoint-url ${sandbox.url} (also list, show, refresh, reconcile)`,
    `listening on ${sandbox.url}`
  );
  return lines;
}
