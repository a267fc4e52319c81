import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock';
import type { Log, Metrics } from '../log';
import type { ComponentSecret } from '../secrets';
import type { TokenStore } from '../store/token-store';
import type { ComponentApi } from '../wechat/api-client';

/**
 * What the token services need, as ports. Built once per Lambda container by `functions/lib/deps.ts`,
 * by the sandbox, and by tests with fakes.
 */
export interface TokenContext {
  componentAppId: string;
  store: TokenStore;
  api: ComponentApi;
  secrets: () => Promise<ComponentSecret>;
  clock: Clock;
  log: Log;
  metrics: Metrics;
  /** Waits between lease polls; tests may make it advance a fake clock. */
  sleep: (ms: number) => Promise<void>;
  /** Unique id for each lease claim. */
  newLeaseOwner: () => string;
  /** Our NAT's Elastic IP when known (see `reportWechatFailure`). */
  egressIp?: string;
  /**
   * A component token already read in this run. The scheduled sweep sets it so that each due authorizer
   * does not read the same token again (one DynamoDB read per run instead of one per authorizer).
   */
  componentTokenMemo?: { accessToken: string; expiresAt: number };
  /** When this container last asked WeChat to restart ticket pushes. */
  ticketPushRequestedAt?: number;
}

export const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const randomLeaseOwner = () => randomUUID();
