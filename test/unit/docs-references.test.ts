import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** This file cites bad sections and the old folder on purpose (the scanner's own tests): not scanned. */
const self = relative(root, fileURLToPath(import.meta.url));

/** Folders whose .ts files may cite the design documents. */
const SCANNED = [
  'shared',
  'functions',
  'infra',
  'local',
  'cli',
  'client/src',
  'bench',
  'scripts',
  'test',
];

type Doc = 'architecture' | 'wechat-protocol' | 'conventions';

const DOC_FILES: Record<Doc, string> = {
  architecture: 'docs/architecture.md',
  'wechat-protocol': 'docs/wechat-protocol.md',
  conventions: 'docs/conventions.md',
};

/** The design folder beside the repository, which a clone does not have (split, so searches skip this file). */
const OUTSIDE_DOCS = ['shared', 'docs/'].join('/');

interface Citation {
  line: number;
  doc: Doc;
  section: string;
  /** The citation as written, from the document's name to the last § of its list. */
  text: string;
}

/** Whitespace, and at most one line break followed by a comment's `*` or `//`. */
const GAP = String.raw`[ \t]*(?:\r?\n[ \t]*(?:\*(?!\/)|\/\/+)?[ \t]*)?`;
const SECTION = String.raw`§\d+(?:\.\d+)*`;
const SEPARATOR = String.raw`(?:,|;|&|\band\b|\bto\b|[–—-])`;
/**
 * "architecture §3", "protocol §11.1", "wechat-protocol.md §2.8", "conventions §2.5", and lists such as
 * "(protocol §7.2, §11.1)" or "§2–§7 and §11", whose later §s belong to the document named first.
 */
const CITATION = new RegExp(
  String.raw`\b((?:wechat-)?protocol|architecture|conventions)(?:\.md)?${GAP}(${SECTION}(?:${GAP}${SEPARATOR}${GAP}${SECTION})*)`,
  'g'
);
const RANGE = /[–—-]|\bto\b/;

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Every section cited in `text`, with its line; an integer range "§2–§7" cites every section in it. */
function citations(text: string): Citation[] {
  const found: Citation[] = [];
  for (const match of text.matchAll(CITATION)) {
    const name = match[1] as string;
    const doc: Doc = name.endsWith('protocol') ? 'wechat-protocol' : (name as Doc);
    const list = match[2] as string;
    const listStart = (match.index ?? 0) + match[0].length - list.length;
    const written = match[0].replace(/\s*\r?\n[ \t]*(?:\*|\/\/+)?[ \t]*/g, ' ');
    let previous: { section: string; end: number } | undefined;
    for (const item of list.matchAll(/§(\d+(?:\.\d+)*)/g)) {
      const section = item[1] as string;
      const start = item.index ?? 0;
      const line = lineAt(text, listStart + start);
      const between = previous ? list.slice(previous.end, start) : '';
      const from = Number(previous?.section);
      const to = Number(section);
      if (previous && RANGE.test(between) && Number.isInteger(from) && Number.isInteger(to)) {
        for (let n = from + 1; n < to; n++) {
          found.push({ line, doc, section: String(n), text: written });
        }
      }
      found.push({ line, doc, section, text: written });
      previous = { section, end: start + item[0].length };
    }
  }
  return found;
}

/** The section numbers of a Markdown file's headings: "## 7. Promises" → 7, "### 11.3 …" → 11.3. */
function headingSections(markdown: string): Set<string> {
  const sections = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(\d+(?:\.\d+)*)\.?(?=\s|$)/.exec(line);
    if (heading) sections.add(heading[1] as string);
  }
  return sections;
}

/** `file:line` and the citation, for every cited section that has no heading in its document. */
function unresolved(file: string, text: string, docs: Record<Doc, Set<string>>): string[] {
  return citations(text)
    .filter((citation) => !docs[citation.doc].has(citation.section))
    .map(
      (c) => `${file}:${c.line} "${c.text}": ${DOC_FILES[c.doc]} has no heading for §${c.section}`
    );
}

/** `file:line` of every line that names the design folder outside the repository. */
function outsidePaths(file: string, text: string): string[] {
  return text
    .split('\n')
    .flatMap((line, i) => (line.includes(OUTSIDE_DOCS) ? [`${file}:${i + 1} ${line.trim()}`] : []));
}

/** `file:line` of every relative link to `docs/` that does not reach a file from where it is written. */
function brokenDocLinks(file: string, text: string): string[] {
  return text
    .split('\n')
    .flatMap((line, i) =>
      [...line.matchAll(/(?<![\w/.])((?:\.\.?\/)+docs\/[\w.-]+\.md)/g)]
        .filter((link) => !existsSync(resolve(root, dirname(file), link[1] as string)))
        .map((link) => `${file}:${i + 1} ${link[1]}`)
    );
}

function sources(): string[] {
  return SCANNED.flatMap((folder) =>
    readdirSync(join(root, folder), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
      .map((entry) => relative(root, join(entry.parentPath, entry.name)))
  )
    .filter((file) => file !== self)
    .sort();
}

const read = (file: string) => readFileSync(join(root, file), 'utf8');

const docs = Object.fromEntries(
  Object.entries(DOC_FILES).map(([doc, file]) => [doc, headingSections(read(file))])
) as Record<Doc, Set<string>>;

describe('design documents cited in code are in docs/', () => {
  it('every cited section has a heading in its document', () => {
    expect(sources().flatMap((file) => unresolved(file, read(file), docs))).toEqual([]);
  });

  it('no code points at the design folder outside the repository', () => {
    expect(sources().flatMap((file) => outsidePaths(file, read(file)))).toEqual([]);
  });

  it('every relative link to docs/ reaches the file', () => {
    expect(sources().flatMap((file) => brokenDocLinks(file, read(file)))).toEqual([]);
  });

  it('keeps the section numbering the code cites', () => {
    const range = (prefix: string, last: number) =>
      Array.from({ length: last }, (_, i) => `${prefix}${i + 1}`);
    expect([...docs.architecture]).toEqual(expect.arrayContaining(range('', 7)));
    expect([...docs['wechat-protocol']]).toEqual(
      expect.arrayContaining([...range('', 13), ...range('2.', 8), ...range('11.', 13), '2.0'])
    );
    expect([...docs.conventions]).toEqual(expect.arrayContaining(['1', '2', ...range('2.', 8)]));
  });

  it('finds the citations it checks (a broken pattern would pass everything)', () => {
    const all = sources().flatMap((file) => citations(read(file)));
    expect(all.length).toBeGreaterThan(50);
    expect(new Set(all.map((c) => c.doc))).toEqual(
      new Set(['architecture', 'wechat-protocol', 'conventions'])
    );
  });
});

describe('the citation scanner', () => {
  const known: Record<Doc, Set<string>> = {
    architecture: new Set(['3', '7']),
    'wechat-protocol': new Set(['2', '3', '4', '5', '6', '7', '7.2', '11', '11.1']),
    conventions: new Set(['2.5']),
  };

  it('reports a section its document lacks, with file and line', () => {
    const text = 'const a = 1;\n// the lease (architecture §3); see architecture §99 for more\n';
    expect(unresolved('x.ts', text, known)).toEqual([
      'x.ts:2 "architecture §99": docs/architecture.md has no heading for §99',
    ]);
  });

  it('gives later §s of a list the document named before them', () => {
    expect(citations('(protocol §7.2, §11.1) and (architecture §3, §7)')).toEqual([
      { line: 1, doc: 'wechat-protocol', section: '7.2', text: 'protocol §7.2, §11.1' },
      { line: 1, doc: 'wechat-protocol', section: '11.1', text: 'protocol §7.2, §11.1' },
      { line: 1, doc: 'architecture', section: '3', text: 'architecture §3, §7' },
      { line: 1, doc: 'architecture', section: '7', text: 'architecture §3, §7' },
    ]);
    expect(unresolved('y.ts', '(protocol §7.2, §11.99)', known)).toEqual([
      'y.ts:1 "protocol §7.2, §11.99": docs/wechat-protocol.md has no heading for §11.99',
    ]);
  });

  it('follows a list over a comment line break, and expands ranges', () => {
    const text =
      ' * quotas (protocol §7.4,\n * §11.6): budgets\n * @see wechat-protocol.md §2–§4 and §11';
    expect(citations(text).map((c) => `${c.line} ${c.doc} ${c.section}`)).toEqual([
      '1 wechat-protocol 7.4',
      '2 wechat-protocol 11.6',
      '3 wechat-protocol 2',
      '3 wechat-protocol 3',
      '3 wechat-protocol 4',
      '3 wechat-protocol 11',
    ]);
    expect(citations('// the lease (architecture\n// §3, conventions §2.5)').length).toBe(2);
  });

  it('ignores other documents’ sections and bare §s', () => {
    expect(citations('RFC 9110 §12.5.4, ECMA-262 §21.4.1.1, and (§11.7) alone')).toEqual([]);
  });

  it('reads section numbers from headings only, outside code fences', () => {
    const markdown =
      '# Title\n\n## 1. System\n### 11.3 Rule\n```\n## 9. not a heading\n```\n1. item\n';
    expect([...headingSections(markdown)]).toEqual(['1', '11.3']);
  });

  it('reports a relative docs/ link that misses the file', () => {
    const text = ' * @see ../../docs/wechat-protocol.md §3\n * @see ../docs/wechat-protocol.md §3';
    expect(brokenDocLinks('shared/wechat/x.ts', text)).toEqual([
      'shared/wechat/x.ts:2 ../docs/wechat-protocol.md',
    ]);
  });

  it('reports a path into the old design folder', () => {
    const text = `/**\n * @see ../../../${OUTSIDE_DOCS}architecture.md §5\n */`;
    expect(outsidePaths('z.ts', text)).toEqual([
      `z.ts:2 * @see ../../../${OUTSIDE_DOCS}architecture.md §5`,
    ]);
  });
});
