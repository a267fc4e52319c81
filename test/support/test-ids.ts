/**
 * The identities and the time tests share (conventions §1): one component appid, authorizer appids by
 * number, and a fixed epoch `T0` with the time units. Every appid here passes `isAppId` (wx and 14 to 30
 * letters or digits). A test writes its own appid only when the exact text is its subject (validation,
 * WeChat's example fixtures, crypto vectors).
 */

/** The component (third-party platform) every test runs as. */
export const COMPONENT_APPID = 'wxcomponent000001';
/** A second component, for tests about keeping two platforms apart. */
export const OTHER_COMPONENT_APPID = 'wxcomponent000002';

/** The `n`th authorizer (a merchant's official account or mini program): `wxauthorizer00001` for 1. */
export function authorizerAppId(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 99_999) throw new RangeError(`authorizer number ${n}`);
  return `wxauthorizer${String(n).padStart(5, '0')}`;
}

/** The authorizer a test is about. */
export const AUTHORIZER_APPID = authorizerAppId(1);
/** Another authorizer, beside the first. */
export const OTHER_AUTHORIZER_APPID = authorizerAppId(2);

/** The fixed time injected clocks start at (2027-01-15T08:00:00Z). */
export const T0 = 1_800_000_000_000;
export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
