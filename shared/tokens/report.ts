import { errorCode, ServiceError, WechatApiError } from '../errors';
import type { LogFields } from '../log';
import type { TokenContext } from './context';

/**
 * Logs one failure with the fields an operator needs (code, api, errcode, the egress IP WeChat saw). The
 * `WhitelistRejected` metric is counted where the answer arrives (`functions/lib/deps.ts`). Never logs a
 * token or secret; WeChat's own `errmsg` carries no credential.
 */
export function reportWechatFailure(
  ctx: TokenContext,
  error: unknown,
  fields: LogFields = {}
): void {
  const details: LogFields = { ...fields, code: errorCode(error) };
  if (error instanceof WechatApiError) {
    details.api = error.api;
    details.errcode = error.errcode;
    details.errmsg = error.errmsg;
    if (error.kind === 'ip_not_whitelisted') {
      details.requestIp = error.requestIp ?? 'unknown';
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
  } else if (error instanceof ServiceError) {
    details.message = error.message;
  } else if (error instanceof Error) {
    details.errorName = error.name;
  }
  ctx.log.error('WeChat operation failed', details);
}
