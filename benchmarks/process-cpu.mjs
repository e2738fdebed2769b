// CPU time of every process on this machine, grouped by role (driver: this process; node: a
// `raybus start` process; worker: a raybus worker; others by their command name), for
// per-operation CPU figures across the processes one operation crosses. Linux only (/proc).
import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_S = 100;

/** CPU seconds so far of each process, with its role. */
export function cpuByProcess() {
  const out = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').slice(0, 3).join(' ');
      const role = Number(d) === process.pid ? 'driver' : cmd.includes('bin/worker.js') ? 'worker' : / start( |$)/.test(cmd) && cmd.includes('main.js') ? 'node' : comm;
      out.set(d, { role, s: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** "role X ms, ..." per operation between two snapshots, largest first (processes alive at both). */
export function cpuPerOp(before, after, ops, unit = 'ms', top = 5) {
  const scale = unit === 'µs' ? 1e6 : 1e3;
  const byRole = {};
  for (const [pid, a] of after) {
    const b = before.get(pid);
    if (b && a.s > b.s) byRole[a.role] = (byRole[a.role] ?? 0) + a.s - b.s;
  }
  return Object.entries(byRole)
    .sort((x, y) => y[1] - x[1])
    .slice(0, top)
    .map(([role, s]) => `${role} ${Math.round((s * scale) / ops)} ${unit}`)
    .join(', ');
}
