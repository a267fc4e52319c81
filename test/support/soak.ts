/** `normal` in `npm test`; `soaked` under `npm run test:soak` (RELIABILITY_SOAK=1). */
export const soak = <T>(normal: T, soaked: T): T =>
  process.env.RELIABILITY_SOAK === '1' ? soaked : normal;
