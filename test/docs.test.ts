/**
 * The documentation holds together: every relative link in README.md and docs/*.md reaches a
 * file, every `#anchor` reaches a heading of its target (GitHub's slugs), and the README stays a
 * short front page whose first two commands are the ones CI runs.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/**
 * Guides written alongside this one that do not exist yet on this branch. A link to one of them
 * is accepted while it is absent (its anchors are not checked); once they are all merged this
 * list must be empty.
 */
export const PENDING_DOCS: readonly string[] = [];

/** Lines of a markdown file outside fenced code blocks, with their 1-based numbers. */
export function proseLines(text: string): { line: string; n: number }[] {
  const out: { line: string; n: number }[] = [];
  let fence: string | undefined;
  text.split('\n').forEach((line, i) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m) {
      const marker = m[1]!;
      if (fence === undefined) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = undefined;
      return;
    }
    if (fence === undefined) out.push({ line, n: i + 1 });
  });
  return out;
}

/** GitHub's heading slug: the rendered text, lowercased, punctuation dropped except - and _, spaces to -. */
export function slugify(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML tags
    .replace(/`/g, '')
    .replace(/\*+/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a markdown file offers: heading slugs (duplicates get -1, -2, ...) and explicit `<a id>`/`<a name>`. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { line } of proseLines(text)) {
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const base = slugify(h[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** Inline links `[text](target)` in prose (not in code spans or fenced blocks). */
export function linksOf(text: string): { target: string; n: number }[] {
  const out: { target: string; n: number }[] = [];
  for (const { line, n } of proseLines(text)) {
    const withoutCode = line.replace(/`[^`]*`/g, '``');
    for (const m of withoutCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1]!, n });
  }
  return out;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

const docFiles = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Problems with the relative links of one file: targets that do not exist, anchors with no heading. */
function linkProblems(file: string): string[] {
  const problems: string[] = [];
  const text = readFileSync(join(root, file), 'utf8');
  for (const { target, n } of linksOf(text)) {
    if (isExternal(target)) continue;
    const [pathPart = '', anchor] = target.split('#', 2) as [string, string | undefined];
    const resolved = pathPart === '' ? join(root, file) : resolve(dirname(join(root, file)), decodeURIComponent(pathPart));
    const rel = relative(root, resolved);
    const where = `${file}:${n}: ${target}`;
    if (rel.startsWith('..')) {
      problems.push(`${where} leaves the repository`);
      continue;
    }
    if (!existsSync(resolved)) {
      if (!PENDING_DOCS.includes(rel)) problems.push(`${where}: ${rel} does not exist`);
      continue;
    }
    if (anchor === undefined || anchor === '') continue;
    if (!statSync(resolved).isFile() || !rel.endsWith('.md')) {
      problems.push(`${where}: an anchor into ${rel}, which is not a markdown file`);
      continue;
    }
    const anchors = anchorsOf(readFileSync(resolved, 'utf8'));
    if (!anchors.has(decodeURIComponent(anchor))) problems.push(`${where}: no heading in ${rel} has the anchor #${anchor}`);
  }
  return problems;
}

describe('the link checker itself', () => {
  it('slugs headings as GitHub does', () => {
    expect(slugify('Capacity planning: `apistack plan`')).toBe('capacity-planning-apistack-plan');
    expect(slugify('The Kubernetes target (`charts/`)')).toBe('the-kubernetes-target-charts');
    expect(slugify('Postgres hangs (a stopped server, dropped packets)')).toBe('postgres-hangs-a-stopped-server-dropped-packets');
    expect(slugify('What `max_fails` counts — and why')).toBe('what-max_fails-counts--and-why');
    expect(slugify('See [the guide](docs/x.md) **now**')).toBe('see-the-guide-now');
  });

  it('numbers duplicate headings and ignores headings inside code blocks', () => {
    const anchors = anchorsOf('# Setup\n## Setup\n```sh\n# Setup\n```\n### Setup\n<a id="custom"></a>\n');
    expect([...anchors].sort()).toEqual(['custom', 'setup', 'setup-1', 'setup-2']);
  });

  it('finds links in prose only', () => {
    const links = linksOf('see [a](a.md#x) and `[b](b.md)`\n```\n[c](c.md)\n```\n[d](https://example.com)');
    expect(links.map((l) => l.target)).toEqual(['a.md#x', 'https://example.com']);
  });
});

describe('README.md and docs/', () => {
  const TASK_GUIDES = ['deploy-aws', 'deploy-kubernetes', 'cost', 'local', 'load-tests', 'capacity-planning', 'holding-load', 'profiles', 'cli', 'api', 'benchmarks', 'monitoring'];

  it('has a guide for every task, each starting from a fresh clone and linked from the README', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const guide of TASK_GUIDES) {
      const file = join(root, 'docs', `${guide}.md`);
      expect(existsSync(file), `docs/${guide}.md`).toBe(true);
      // The repository is cloned and `npm ci` run before the guide's first command of this repository.
      const blocks = [...readFileSync(file, 'utf8').matchAll(/^```(?:sh|bash)\n([\s\S]*?)^```/gm)].flatMap((m, b) => m[1]!.split('\n').map((line) => ({ b, line })));
      const runsRepo = (l: string) => /\b(npx apistack|npm (run|start|test)|npx cdk|npx vitest)\b/.test(l);
      const clone = blocks.findIndex((l) => l.line.startsWith('git clone '));
      const ci = blocks.findIndex((l) => /^npm ci\b/.test(l.line));
      const firstCommand = blocks.findIndex((l) => runsRepo(l.line));
      expect(firstCommand, `docs/${guide}.md runs a command`).toBeGreaterThanOrEqual(0);
      expect(clone, `docs/${guide}.md: git clone first`).toBeGreaterThanOrEqual(0);
      expect(ci, `docs/${guide}.md: npm ci after git clone`).toBeGreaterThan(clone);
      expect(firstCommand, `docs/${guide}.md: npm ci before the first command`).toBeGreaterThan(ci);
      expect(readme, `README.md links docs/${guide}.md`).toContain(`](docs/${guide}.md)`);
    }
  });

  for (const file of docFiles) {
    it(`${file}: every relative link and anchor resolves`, () => {
      expect(linkProblems(file)).toEqual([]);
    });
  }

  it('lists as pending only guides that are not there yet', () => {
    const present = PENDING_DOCS.filter((f) => existsSync(join(root, f)));
    expect(present, 'these now exist: remove them from PENDING_DOCS').toEqual([]);
  });
});

describe('the README is a short front page', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');

  it('is at most 200 lines', () => {
    expect(readme.replace(/\n$/, '').split('\n').length).toBeLessThanOrEqual(200);
  });

  it('gives `npm start` then `npm test` as its first two commands (.ci/run runs the latter)', () => {
    const commands: string[] = [];
    const blocks = readme.matchAll(/^```(\w*)[^\n]*\n([\s\S]*?)^```/gm);
    for (const [, lang, body] of blocks) {
      if (!['', 'sh', 'bash', 'shell', 'console'].includes(lang!)) continue;
      for (const raw of body!.split('\n')) {
        const command = raw.replace(/^\$\s*/, '').replace(/\s+#.*$/, '').trim();
        if (command !== '' && !command.startsWith('#')) commands.push(command);
      }
    }
    expect(commands.slice(0, 2)).toEqual(['npm start', 'npm test']);
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
    expect(ci).toMatch(/^npm test$/m);
  });

  it('draws the profile driving the targets in a Mermaid diagram', () => {
    const mermaid = /^```mermaid\n([\s\S]*?)^```/m.exec(readme);
    expect(mermaid, 'a ```mermaid block').not.toBeNull();
    for (const target of ['AWS', 'Kubernetes', 'local', 'cost', 'load test']) expect(mermaid![1]!.toLowerCase()).toContain(target.toLowerCase());
  });
});
