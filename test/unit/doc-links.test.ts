import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../e2e/sandbox-process';
import { documents, readDoc } from '../support/docs';

/** GitHub's anchor for a heading: lower case, punctuation dropped (hyphens and CJK kept), spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a Markdown text's headings, fenced code skipped. */
function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6} (.+)$/.exec(line);
    if (heading) found.add(anchorOf(heading[1]!));
  }
  return found;
}

/** `doc: link` of every relative link whose file, or whose anchor in that file, does not exist. */
function brokenLinks(doc: string, markdown: string): string[] {
  const broken: string[] = [];
  for (const match of markdown.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = match[1]!;
    if (/^[a-z]+:/.test(target)) continue;
    const [path, anchor] = target.split('#') as [string, string | undefined];
    const file = path === '' ? doc : normalize(join(dirname(doc), path));
    const absolute = join(ROOT, file);
    if (!existsSync(absolute)) {
      broken.push(`${doc}: ${target} (no file)`);
      continue;
    }
    if (anchor !== undefined && file.endsWith('.md')) {
      if (!anchors(readFileSync(absolute, 'utf8')).has(anchor))
        broken.push(`${doc}: ${target} (no heading)`);
    }
  }
  return broken;
}

describe('links in the README and docs/', () => {
  it('reach an existing file and heading', () => {
    expect(documents().flatMap((doc) => brokenLinks(doc, readDoc(doc)))).toEqual([]);
  });

  it('are found, and a wrong one is reported (the check can fail)', () => {
    expect(
      documents().flatMap((doc) => [...readDoc(doc).matchAll(/\]\((?![a-z]+:)[^)\s]+\)/g)]).length
    ).toBeGreaterThan(40);
    expect(
      brokenLinks(
        'README.md',
        '[a](docs/deploy.md#monthly-cost) [b](docs/deploy.md#no-such) [c](docs/none.md)'
      )
    ).toEqual([
      'README.md: docs/deploy.md#no-such (no heading)',
      'README.md: docs/none.md (no file)',
    ]);
    expect(anchorOf('What `expiresAt` promises')).toBe('what-expiresat-promises');
    expect(anchorOf('Egress: a NAT gateway, one per zone, or a NAT instance')).toBe(
      'egress-a-nat-gateway-one-per-zone-or-a-nat-instance'
    );
  });
});
