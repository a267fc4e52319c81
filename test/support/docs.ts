import { readdirSync, readFileSync } from 'node:fs';

const ROOT = new URL('../../', import.meta.url);

/** A document's text by its path from the repository root: `README.md`, `docs/deploy.md`. */
export function readDoc(path: string): string {
  return readFileSync(new URL(path, ROOT), 'utf8');
}

/** The README and every guide in `docs/`, by path from the repository root. */
export function documents(): string[] {
  const guides = readdirSync(new URL('docs/', ROOT)).filter((name) => name.endsWith('.md'));
  return ['README.md', ...guides.sort().map((name) => `docs/${name}`)];
}

/**
 * The lines of one section of a document: from its heading to the next heading of the same or a higher
 * level.
 */
export function docSection(path: string, heading: string): string[] {
  const lines = readDoc(path).split('\n');
  const start = lines.findIndex((line) => line.trim() === heading);
  if (start < 0) throw new Error(`${path} has no heading "${heading}"`);
  const level = heading.indexOf(' ');
  const end = lines.findIndex(
    (line, i) => i > start && /^#+ /.test(line) && line.indexOf(' ') <= level
  );
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** Alarm ids with a runbook section: the backticked names in the `###` headings under the runbook. */
export function runbookSections(): string[] {
  return docSection('docs/operations.md', '## Alarms and runbook')
    .filter((line) => line.startsWith('### '))
    .flatMap((line) => [...line.matchAll(/`([A-Za-z0-9]+)`/g)].map((m) => m[1]!));
}

/**
 * The context keys the deploy guide documents, with their example values: the rows of the table under
 * "## Settings" whose first cell is a backticked key (`| \`key\` | example | … |`).
 */
export function documentedContextKeys(): { key: string; example: string }[] {
  return docSection('docs/deploy.md', '## Settings')
    .map((line) => /^\|\s*`([A-Za-z]+)`\s*\|\s*`([^`]*)`\s*\|/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ key: m[1]!, example: m[2]! }));
}

/** Every `npx cdk …` command line in the shell blocks of the README and the guides, in order. */
export function documentedCdkCommands(): string[] {
  return documents().flatMap((path) =>
    shellCommands(readDoc(path)).filter((text) => text.startsWith('npx cdk '))
  );
}

/**
 * The command lines of a Markdown text's `bash`/`sh` blocks, in order: comments dropped, lines continued
 * with `\\` joined, runs of whitespace made one space; a here-document stays one command with its lines; a
 * block indented in a list loses that indentation, as Markdown renders it.
 */
export function shellCommands(markdown: string): string[] {
  const commands: string[] = [];
  let inShell = false;
  let pending = '';
  let hereDocument: { command: string; end: string } | undefined;
  let indent = 0;
  for (const markdownLine of markdown.split('\n')) {
    if (hereDocument) {
      const line = markdownLine.slice(Math.min(indent, /^\s*/.exec(markdownLine)![0].length));
      hereDocument.command += `\n${line}`;
      if (line === hereDocument.end) {
        commands.push(hereDocument.command);
        hereDocument = undefined;
      }
      continue;
    }
    if (/^\s*```/.test(markdownLine)) {
      inShell = !inShell && /```(bash|sh)\s*$/.test(markdownLine.trim());
      indent = inShell ? /^\s*/.exec(markdownLine)![0].length : 0;
      continue;
    }
    if (!inShell) continue;
    const line = markdownLine.slice(Math.min(indent, /^\s*/.exec(markdownLine)![0].length));
    const here = /<<-?'?(\w+)'?\s*$/.exec(line);
    if (here) {
      hereDocument = { command: line.trim(), end: here[1]! };
      continue;
    }
    const text = pending + line.replace(/(^|\s)#.*$/, '').trim();
    if (text.endsWith('\\')) {
      pending = `${text.slice(0, -1)} `;
      continue;
    }
    pending = '';
    if (text !== '') commands.push(text.replace(/\s+/g, ' '));
  }
  return commands;
}

interface Throttle {
  rate: number;
  burst: number;
}

/**
 * The HTTP API throttling the deploy guide documents under "## Concurrency and throttling": each route's
 * row (`| \`GET /authorize\` | 50 | 100 |`) and the row of all routes together.
 */
export function documentedRouteThrottles(): { routes: Record<string, Throttle>; total?: Throttle } {
  const routes: Record<string, Throttle> = {};
  let total: Throttle | undefined;
  for (const line of docSection('docs/deploy.md', '## Concurrency and throttling')) {
    const route = /^\|\s*`([A-Z]+ \/[^`]*)`\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*$/.exec(line);
    if (route) routes[route[1]!] = { rate: Number(route[2]), burst: Number(route[3]) };
    const all = /^\|\s*all routes together\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*$/.exec(line);
    if (all) total = { rate: Number(all[1]), burst: Number(all[2]) };
  }
  return { routes, total };
}

/** Every inline code span of a Markdown text that is a `curl` command (the tour's table has them). */
export function inlineCurlCommands(markdown: string): string[] {
  return [...markdown.matchAll(/`(curl [^`]+)`/g)].map((m) => m[1]!.replace(/\s+/g, ' '));
}
