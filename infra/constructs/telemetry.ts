/**
 * Names shared by the functions' environment and the alarms: the runtime emits CloudWatch EMF metrics under
 * this namespace with the dimension `service` = {@link SERVICE_NAME} (Powertools' default dimension).
 * Written here literally because infra imports no runtime code.
 */
export const SERVICE_NAME = 'wechat-token-service';

/** CloudWatch namespace of the runtime's EMF metrics (`POWERTOOLS_METRICS_NAMESPACE`). */
export const METRICS_NAMESPACE = 'WeChatTokenService';

/** The `WechatQuotaUsedPercent` at which the quota alarm fires: `QUOTA_WARN_SHARE` × 100 (a test checks). */
export const QUOTA_ALARM_PERCENT = 80;

/** The runtime's metric names that alarms watch. */
export const METRIC = {
  /** Gauge: seconds since the latest component_verify_ticket, emitted by every refresh run. */
  ticketAgeSeconds: 'TicketAgeSeconds',
  /** No ticket usable to mint a component token (none, or older than 12 h). */
  ticketUnavailable: 'TicketUnavailable',
  componentRefreshFailed: 'ComponentRefreshFailed',
  authorizerRefreshFailed: 'AuthorizerRefreshFailed',
  /** WeChat rejected the caller IP (61004 / 40164): the egress IP is not on the whitelist. */
  whitelistRejected: 'WhitelistRejected',
  /** An authorizer's refresh token is gone for good; the merchant must authorize again. */
  needsReauthorization: 'NeedsReauthorization',
  /** Due lifecycle events a scheduled flush could not publish; one every run while the bus refuses them. */
  lifecycleEventsUnpublished: 'LifecycleEventsUnpublished',
  /** The bus refused an authorizer's message or event; WeChat got a 503 and delivers it again. */
  messagePublishFailed: 'MessagePublishFailed',
  /** The highest share (%) of a watched WeChat API's daily quota used, read once a day. */
  wechatQuotaUsedPercent: 'WechatQuotaUsedPercent',
} as const;
