/** A tiny scripted "browser" for the authorization flow: follows links and forms like an admin would. */

const unescapeHtml = (value: string) =>
  value
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');

/** The `href` of the element with this id, unescaped. */
export function linkById(html: string, id: string): string {
  const match = new RegExp(`id="${id}"[^>]*href="([^"]+)"`).exec(html);
  if (!match?.[1]) throw new Error(`no link #${id} on the page`);
  return unescapeHtml(match[1]);
}

/** All `name=value` pairs of the inputs of the first form on the page. */
export function formFields(html: string): URLSearchParams {
  const fields = new URLSearchParams();
  for (const input of html.matchAll(/<input[^>]*>/g)) {
    const name = /name="([^"]+)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
    if (name) fields.set(name, unescapeHtml(value));
  }
  return fields;
}

export interface AuthorizationWalk {
  pageUrl: string;
  link: string;
  callbackUrl: string;
  callback: Response;
  callbackHtml: string;
}

/**
 * Opens our authorization page, clicks a link (sending the Referer WeChat checks), confirms on the
 * simulator's page as `authorizerAppId`, and follows the redirect back to our callback.
 */
export async function walkAuthorization(
  serviceUrl: string,
  options: {
    authorizerAppId?: string;
    query?: string;
    link?: 'authorize-pc' | 'authorize-h5';
    /** Sent to our pages, as a browser would (`accept-language`, `user-agent`). */
    headers?: Record<string, string>;
  } = {}
): Promise<AuthorizationWalk> {
  const pageUrl = `${serviceUrl}/authorize${options.query ? `?${options.query}` : ''}`;
  const page = await fetch(pageUrl, { headers: options.headers });
  if (page.status !== 200) throw new Error(`authorization page answered ${page.status}`);
  const link = linkById(await page.text(), options.link ?? 'authorize-pc');
  const confirmPage = await fetch(link, { headers: { referer: pageUrl } });
  const confirmHtml = await confirmPage.text();
  const fields = formFields(confirmHtml);
  if (options.authorizerAppId) fields.set('authorizer_appid', options.authorizerAppId);
  const action = /<form[^>]*action="([^"]+)"/.exec(confirmHtml)?.[1];
  if (!action) throw new Error('the confirm page has no form');
  const confirmed = await fetch(new URL(action, link), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', referer: link },
    body: fields.toString(),
    redirect: 'manual',
  });
  const callbackUrl = confirmed.headers.get('location');
  if (confirmed.status !== 302 || !callbackUrl) {
    throw new Error(`confirm answered ${confirmed.status}`);
  }
  const callback = await fetch(callbackUrl, { headers: options.headers });
  return { pageUrl, link, callbackUrl, callback, callbackHtml: await callback.text() };
}
