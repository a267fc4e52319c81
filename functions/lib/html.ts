import type { PageLanguage } from './page-language';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

export interface PageContent {
  lang: PageLanguage;
  /** HTML-safe text: every value in it must already be escaped (it may hold the platform's name). */
  title: string;
  /** The platform's display name, when configured: shown above the title and in the tab. Plain text. */
  platformName?: string;
  /** HTML; every value in it must already be escaped. */
  body: string;
}

const STYLE = `body{margin:0;background:#f5f6f7;color:#1f2328;font:16px/1.65 system-ui,-apple-system,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif}
main{max-width:36rem;margin:3rem auto;padding:1.75rem 2rem 1.25rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.08)}
.brand{margin:0;color:#07c160;font-weight:600;font-size:.95rem}h1{font-size:1.4rem;line-height:1.35;margin:.25rem 0 1rem}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin:1.25rem 0}
a.button{display:inline-block;padding:.7rem 1.2rem;border-radius:8px;border:1px solid #07c160;background:#07c160;color:#fff;text-decoration:none;font-weight:600;text-align:center}
a.button.secondary{background:#fff;color:#06ad56}.muted{color:#6e7781;font-size:.875rem}ul,ol{padding-left:1.4rem}
code{background:#f1f3f5;padding:.05rem .35rem;border-radius:4px;font-size:.9em;word-break:break-all}
@media (max-width:40rem){main{margin:0;min-height:100vh;box-sizing:border-box;border-radius:0;box-shadow:none;padding:1.5rem 1.25rem}a.button{display:block;width:100%;box-sizing:border-box}}`;

/**
 * A small, self-contained page (no scripts, no external assets: the CSP allows neither), in `lang`, with the
 * platform's name on it.
 */
export function page(content: PageContent): string {
  const { title } = content;
  const platform = content.platformName ? escapeHtml(content.platformName) : undefined;
  return `<!doctype html>
<html lang="${content.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${platform ? `${title} · ${platform}` : title}</title>
<style>
${STYLE}
</style>
</head>
<body>
<main>
${platform ? `<p class="brand">${platform}</p>\n` : ''}<h1>${title}</h1>
${content.body}
</main>
</body>
</html>
`;
}
