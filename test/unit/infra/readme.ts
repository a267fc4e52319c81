import { readFileSync } from 'node:fs';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The lines of one README section: from its heading to the next heading of the same or a higher level. */
export function readmeSection(heading: string): string[] {
  const lines = README.split('\n');
  const start = lines.findIndex((line) => line.trim() === heading);
  if (start < 0) throw new Error(`README has no heading "${heading}"`);
  const level = heading.indexOf(' ');
  const end = lines.findIndex(
    (line, i) => i > start && /^#+ /.test(line) && line.indexOf(' ') <= level
  );
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** Alarm ids with a runbook section: the backticked names in the `####` headings under the runbook. */
export function readmeRunbookSections(): string[] {
  return readmeSection('### Alarms and runbook')
    .filter((line) => line.startsWith('#### '))
    .flatMap((line) => [...line.matchAll(/`([A-Za-z0-9]+)`/g)].map((m) => m[1]!));
}

/**
 * The context keys the README documents, with their example values: the rows of the table under
 * "### Settings" whose first cell is a backticked key (`| \`key\` | example | … |`).
 */
export function readmeContextKeys(): { key: string; example: string }[] {
  return readmeSection('### Settings')
    .map((line) => /^\|\s*`([A-Za-z]+)`\s*\|\s*`([^`]*)`\s*\|/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ key: m[1]!, example: m[2]! }));
}

/** Every `npx cdk …` command line in the README's shell blocks, in order. */
export function readmeCdkCommands(): string[] {
  const commands: string[] = [];
  let inShell = false;
  let pending = '';
  for (const line of README.split('\n')) {
    if (/^\s*```/.test(line)) {
      inShell = !inShell && /```(bash|sh)\s*$/.test(line.trim());
      continue;
    }
    if (!inShell) continue;
    const text = pending + line.replace(/#.*$/, '').trim();
    if (text.endsWith('\\')) {
      pending = `${text.slice(0, -1)} `;
      continue;
    }
    pending = '';
    if (text.startsWith('npx cdk ')) commands.push(text.replace(/\s+/g, ' '));
  }
  return commands;
}

interface Throttle {
  rate: number;
  burst: number;
}

/**
 * The HTTP API throttling the README documents under "### Concurrency and throttling": each route's row
 * (`| \`GET /authorize\` | 50 | 100 |`) and the row of all routes together.
 */
export function readmeRouteThrottles(): { routes: Record<string, Throttle>; total?: Throttle } {
  const routes: Record<string, Throttle> = {};
  let total: Throttle | undefined;
  for (const line of readmeSection('### Concurrency and throttling')) {
    const route = /^\|\s*`([A-Z]+ \/[^`]*)`\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*$/.exec(line);
    if (route) routes[route[1]!] = { rate: Number(route[2]), burst: Number(route[3]) };
    const all = /^\|\s*all routes together\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*$/.exec(line);
    if (all) total = { rate: Number(all[1]), burst: Number(all[2]) };
  }
  return { routes, total };
}
