/**
 * The README's code blocks: every fenced `ts`/`js` block is a complete program that the
 * user-program suites run, unless the line before its fence marks it `<!-- fragment: why -->`.
 */

/** One block of the README. */
export interface ReadmeBlock {
  readonly lang: string;
  readonly source: string;
  /** The 1-based line of its opening fence. */
  readonly line: number;
  /** Why it is not a program (from its `<!-- fragment: ... -->` marker), if it is not. */
  readonly fragment?: string;
}

const PROGRAM_LANGS = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs']);

/** Every fenced block, in order. */
export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    const indent = /^\s*/.exec(lines[i]!)![0].length;
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!.slice(indent));
    const marker = /<!--\s*fragment(?::\s*(.*?))?\s*-->/.exec(lines[start - 1] ?? '') ?? /<!--\s*fragment(?::\s*(.*?))?\s*-->/.exec(lines[start - 2] ?? '');
    blocks.push({ lang: open[1]!, source: `${body.join('\n')}\n`, line: start + 1, ...(marker ? { fragment: marker[1] ?? 'fragment' } : {}) });
  }
  return blocks;
}

/** The blocks that are programs (ts/js, not marked as fragments). */
export function readmePrograms(markdown: string): ReadmeBlock[] {
  return readmeBlocks(markdown).filter((b) => PROGRAM_LANGS.has(b.lang) && b.fragment === undefined);
}
