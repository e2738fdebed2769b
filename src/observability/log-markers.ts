/**
 * The marker lines in a worker's log files: before output written by another task than the
 * last (or outside any task), the worker writes `::raybus-task:<taskId>::` (`-` outside
 * tasks), so `raybus logs --task ID` can pick that task's lines out of its worker's files.
 */

/** The marker line written before output of `taskId` (undefined: outside any task). */
export function taskMarker(taskId: string | undefined): string {
  return `::raybus-task:${taskId ?? '-'}::\n`;
}

/** The task id of a marker line ('-' outside tasks), or undefined for any other line. */
export function parseTaskMarker(line: string): string | undefined {
  const m = /^::raybus-task:([^:\s]+)::$/.exec(line);
  return m?.[1];
}

/** `text` without its marker lines (whole lines only). */
export function stripMarkers(text: string): string {
  return text.replace(/^::raybus-task:[^:\s]+::\n/gm, '');
}
