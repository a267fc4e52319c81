/** The languages the merchant pages are written in. */
export type PageLanguage = 'zh-CN' | 'en';

/** Merchants are Chinese businesses: Chinese unless the browser prefers English. */
export const DEFAULT_PAGE_LANGUAGE: PageLanguage = 'zh-CN';

const RANGE = /^(?:\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*)$/;
const WEIGHT = /^q=(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

interface Preference {
  quality: number;
  /** Position in the header: among equal qualities the one listed first wins. */
  position: number;
}

/**
 * How much the browser wants `primary` (`zh`, `en`): the best weight of a range with that primary subtag
 * (`zh`, `zh-CN`, `zh-Hant-TW`…), else the weight of `*`, else undefined (not listed).
 */
function preferenceFor(
  entries: readonly { range: string; quality: number; position: number }[],
  primary: string
): Preference | undefined {
  let best: Preference | undefined;
  for (const entry of entries) {
    if (entry.range.split('-')[0] !== primary) continue;
    if (!best || entry.quality > best.quality) best = entry;
  }
  return best ?? entries.find((entry) => entry.range === '*');
}

/**
 * The page language for an `Accept-Language` header (RFC 9110 §12.5.4, matching as RFC 4647 "lookup" on
 * the primary subtag): English only when the browser ranks some English above every Chinese range (by
 * `q`, then by order); Chinese otherwise, including when the header is missing, malformed, or names
 * neither. Malformed entries and invalid weights are skipped; `q=0` means "not acceptable".
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-12.5.4
 */
export function pageLanguage(acceptLanguage: string | undefined): PageLanguage {
  if (!acceptLanguage) return DEFAULT_PAGE_LANGUAGE;
  const entries = acceptLanguage
    .slice(0, 1000)
    .split(',')
    .flatMap((part, position) => {
      const [rawRange = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
      if (!RANGE.test(rawRange)) return [];
      const weights = params.filter((p) => p.startsWith('q'));
      if (weights.length > 1 || (weights[0] !== undefined && !WEIGHT.test(weights[0]))) return [];
      const quality = weights[0] === undefined ? 1 : Number(weights[0].slice(2));
      return [{ range: rawRange, quality, position }];
    });
  const en = preferenceFor(entries, 'en');
  if (!en || en.quality <= 0) return DEFAULT_PAGE_LANGUAGE;
  const zh = preferenceFor(entries, 'zh');
  const englishFirst =
    !zh || en.quality > zh.quality || (en.quality === zh.quality && en.position < zh.position);
  return englishFirst ? 'en' : DEFAULT_PAGE_LANGUAGE;
}

/**
 * True for a phone browser (WeChat's in-app browser, mobile Safari and Chrome): the H5 authorization link
 * comes first there. WeChat's desktop clients also say `MicroMessenger`, but scan QR codes like a computer.
 */
export function isPhone(userAgent: string | undefined): boolean {
  if (!userAgent) return false;
  if (/WindowsWechat|MacWechat/i.test(userAgent)) return false;
  return /MicroMessenger|Mobile|Android|iPhone/i.test(userAgent);
}
