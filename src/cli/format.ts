/**
 * How the commands print: resources and labels as `k=v, ...`, numbers with at most two
 * decimals, rows as a table with upper-case column names.
 */

/** `{CPU: 1, GPU: 0.5}` → `CPU=1, GPU=0.50`; nested objects in braces (`unitResources={CPU=1}`). */
export function fmt(r: Record<string, unknown>): string {
  return Object.entries(r)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? round(v) : typeof v === 'object' && v !== null ? `{${Array.isArray(v) ? v.map(String).join(', ') : fmt(v as Record<string, unknown>)}}` : String(v)}`)
    .join(', ');
}

export function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

/** One cell: objects as `k=v`, arrays joined by ` | `, nothing as ''. */
function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map(cell).join(' | ');
  if (typeof v === 'object') return fmt(v as Record<string, unknown>);
  return typeof v === 'number' ? round(v) : String(v);
}

/** Rows as a table; `columns` in order (default: those of the rows, in order of appearance). */
export function table(rows: ReadonlyArray<Record<string, unknown>>, columns?: readonly string[]): string {
  if (rows.length === 0) return '(none)\n';
  const cols = columns ? [...columns] : [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (parts: string[]): string => parts.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${[line(cols.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n')}\n`;
}
