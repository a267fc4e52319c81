/**
 * The operators' listing of authorizers: a paginated Scan filtered on the key prefix, projected without
 * tokens or lease owner. A Scan reads every item of the table, so only the operator jobs use it, never a
 * request path; each page reads a bounded number of Scan requests and may answer short, and its cursor is
 * the key to resume after and nothing else, so a forged cursor is refused (docs/operations.md, "Operations CLI").
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { InvalidRequestError } from '../../errors';
import type { AuthorizerStatus, AuthorizerSummary, Page } from '../token-store';
import { type Item, key, strip } from './items';
import type { Table } from './table';

/** What an operator listing reads of an authorizer: everything but its tokens and lease owner. */
const SUMMARY_ATTRIBUTES = [
  'pk',
  'status',
  'componentAppId',
  'authorizerAppId',
  'funcInfo',
  'refreshAt',
  'issuedAt',
  'requestedAt',
  'expiresAt',
  'forcedAt',
  'reportCheckedAt',
  'authorizedAt',
  'endedAt',
  'lastErrorCode',
  'updatedAt',
  'version',
  'leaseUntil',
] as const;
/** Scan requests (up to 1 MB read each) one `listAuthorizers` page may take before answering short. */
const SCAN_REQUESTS_PER_PAGE = 4;

export const encodeKey = (k: Item) => Buffer.from(JSON.stringify(k)).toString('base64url');

/** The Scan's start key from a `listAuthorizers` cursor: `{pk}` and nothing else. */
export function scanStartKey(cursor: string | undefined): Item | undefined {
  if (cursor === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const k = decoded as Item | undefined;
  if (!k || typeof k !== 'object' || typeof k.pk !== 'string' || Object.keys(k).length !== 1) {
    throw new InvalidRequestError('the cursor is not one this service issued');
  }
  return { pk: k.pk };
}

/**
 * Every authorizer of the platform (or only those in `status`), without their tokens, a page at a time.
 *
 * @throws InvalidRequestError for a cursor this store did not issue.
 */
export async function listAuthorizers(
  table: Table,
  componentAppId: string,
  options: { status?: AuthorizerStatus; limit: number; cursor?: string }
): Promise<Page<AuthorizerSummary>> {
  const names = Object.fromEntries(SUMMARY_ATTRIBUTES.map((name, i) => [`#a${i}`, name]));
  const nameOf = (attribute: (typeof SUMMARY_ATTRIBUTES)[number]) =>
    `#a${SUMMARY_ATTRIBUTES.indexOf(attribute)}`;
  // A first exchange's lease-only item has no status: it is no authorizer yet.
  const statusFilter =
    options.status === undefined
      ? ` AND attribute_exists(${nameOf('status')})`
      : ` AND ${nameOf('status')} = :status`;
  const items: Item[] = [];
  let start = scanStartKey(options.cursor);
  for (let request = 0; request < SCAN_REQUESTS_PER_PAGE; request++) {
    const result = await table.send(
      new ScanCommand({
        TableName: table.name,
        FilterExpression: `begins_with(${nameOf('pk')}, :prefix)${statusFilter}`,
        ProjectionExpression: Object.keys(names).join(', '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: {
          ':prefix': key.authorizer(componentAppId, ''),
          ...(options.status === undefined ? {} : { ':status': options.status }),
        },
        ExclusiveStartKey: start,
      })
    );
    const found = (result.Items ?? []) as Item[];
    const room = options.limit - items.length;
    items.push(...found.slice(0, room));
    // A Scan may start after any key: a page cut short resumes right after its last item.
    start =
      found.length > room
        ? { pk: items.at(-1)?.pk }
        : (result.LastEvaluatedKey as Item | undefined);
    if (!start || items.length >= options.limit) break;
  }
  return {
    items: items.map((item) => strip<AuthorizerSummary>(item) as AuthorizerSummary),
    ...(start ? { cursor: encodeKey(start) } : {}),
  };
}
