import { errorCode, ServiceError, WechatApiError, WechatUnavailableError } from './errors';
import type { LogFields } from './log';
import type { TokenContext } from './token-context';

/** WeChat's request id at the end of an errmsg (protocol §3: ` rid: <id>`), quoted to WeChat support. */
const RID = /\brid: ([0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8})\b/;

/**
 * The fields an operator needs to tell one failure from another, for the one log line of each failure
 * (conventions §2.5: logged once, at the edge): the error's `code`, and
 * - for a WeChat answer: the API, errcode, WeChat's `rid` (for WeChat support) and, on 61004/40164, the IP
 *   WeChat saw; not the errmsg itself, which is free text (see `LOG_FIELD_KINDS`);
 * - when WeChat could not be reached: the API, the URL without its query (the query carries the component
 *   token), whether the call may have acted anyway (`uncertain`), and the class of the underlying failure
 *   (`TimeoutError` for no answer in time, `TypeError` for a failed connection);
 * - for anything that is not ours, only its class name.
 *
 * Every value is of a kind `redactFields` (shared/log.ts) lets through; none is a credential.
 */
export function failureFields(error: unknown): LogFields {
  const fields: LogFields = { code: errorCode(error) };
  if (error instanceof WechatApiError) {
    fields.api = error.api;
    fields.errcode = error.errcode;
    fields.rid = RID.exec(error.errmsg)?.[1];
    fields.requestIp = error.requestIp;
  } else if (error instanceof WechatUnavailableError) {
    fields.api = error.api;
    fields.url = error.url;
    fields.uncertain = error.uncertain;
    fields.causeName = error.cause instanceof Error ? error.cause.name : undefined;
  } else if (!(error instanceof ServiceError) && error instanceof Error) {
    fields.errorName = error.name;
  }
  return fields;
}

/**
 * Logs one failed WeChat operation with {@link failureFields}, and on a whitelist rejection says which of
 * the two causes it is: our egress IP is not whitelisted, or calls leave AWS through another IP. The
 * `WhitelistRejected` metric is counted where the answer arrives (`functions/lib/deps.ts`).
 */
export function reportWechatFailure(
  ctx: TokenContext,
  error: unknown,
  fields: LogFields = {}
): void {
  const details: LogFields = { ...fields, ...failureFields(error) };
  if (error instanceof WechatApiError && error.kind === 'ip_not_whitelisted') {
    details.egressIp = ctx.egressIp;
    const drift = ctx.egressIp && error.requestIp && error.requestIp !== ctx.egressIp;
    ctx.log.error(
      drift
        ? 'WeChat saw a request IP that is not our NAT egress IP: calls are leaving AWS another way'
        : 'WeChat rejected our egress IP: add it to the platform whitelist (第三方平台 → 开发资料 → 白名单)',
      details
    );
    return;
  }
  ctx.log.error('WeChat operation failed', details);
}
