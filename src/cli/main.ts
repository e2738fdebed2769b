#!/usr/bin/env node
/**
 * The `raybus` command line (README.md, "Commands"): `start` runs a node until SIGINT/SIGTERM (which
 * drain it); `status`, `list`, `summary`, `logs` and `timeline` read the live cluster;
 * `dashboard` serves it over HTTP; `keygen` makes a cluster key. Long
 * operations print progress; every failure prints one clear line and exits non-zero.
 */
import { packageVersion } from '../util/package-info';
import { parseArgs, UsageError, type ParsedArgs } from './args';
import { runStart } from './start-command';
import { runStatus } from './status-command';
import { runList, runSummary, runTimeline } from './state-commands';
import { runLogs } from './logs-command';
import { runDashboard } from './dashboard-command';
import { setLogLevel } from '../util/logger';
import { runKeygen } from './keygen-command';
import { CLUSTER_KEY_VAR } from '../runtimes/cluster-security';

const USAGE = `raybus — Ray Core's programming model for Node.js

Usage:
  raybus start --address amqp://... [--num-cpus N] [--num-gpus N] [--memory BYTES]
               [--resources '{"X":2}'] [--accelerator-type T] [--import module ...]
               [--cluster-key-file F] [--encrypt] [--insecure] [--ca-file PEM]
               [--drain-timeout SECONDS]
  raybus status --address amqp://... [--json]
  raybus list tasks|actors|nodes|workers|objects|placement-groups --address amqp://...
              [--filter column=value | column!=value ...] [--detail] [--limit N] [--cursor C] [--json]
  raybus summary tasks|actors --address amqp://... [--json]
  raybus logs --actor ID | --task ID --address amqp://... [--follow]
  raybus timeline --out trace.json --address amqp://...
  raybus dashboard --address amqp://... [--port 8265] [--host 127.0.0.1] [--token T]
  raybus keygen [--out FILE]
  raybus --version | --help

Every command that reads a cluster takes --cluster-key-file F [--encrypt] [--insecure]
[--ca-file PEM], and --log-level debug|info|warn|error|silent (raybus's own messages).
The dashboard listens on 127.0.0.1 unless --host says otherwise; on any other host every
request must carry the token (--token, RAYBUS_DASHBOARD_TOKEN) or else the cluster key.

Every message is authenticated with the cluster key (a file of one line, made by
'raybus keygen'); a bus that is not on this machine needs one, or --insecure.
The address may also come from RAYBUS_ADDRESS, the cluster key from RAYBUS_CLUSTER_KEY,
the CA file from RAYBUS_CA_FILE.
Without a cluster, nothing needs starting: call ray.init() in your program for the
embedded default.`;

const COMMANDS = new Set(['start', 'status', 'list', 'summary', 'logs', 'timeline', 'dashboard']);

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return cmd ? 0 : 1;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (cmd === 'keygen') {
    try {
      return runKeygen(rest);
    } catch (err) {
      process.stderr.write(`raybus keygen: ${err instanceof UsageError ? '' : 'error: '}${oneLine(err)}\n`);
      return err instanceof UsageError ? 2 : 1;
    }
  }
  if (!COMMANDS.has(cmd)) {
    process.stderr.write(`raybus: unknown command '${cmd}'. Run 'raybus --help'.\n`);
    return 2;
  }
  let args: ParsedArgs;
  try {
    args = parseArgs(cmd, rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`raybus ${cmd}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  // Read once: no child process (a worker, an --import module's) inherits the key.
  delete process.env[CLUSTER_KEY_VAR];
  if (args.logLevel) setLogLevel(args.logLevel);
  try {
    if (cmd === 'start') {
      const code = await runStart(args);
      if (process.connected) process.disconnect();
      // Anything still holding the event loop (a worker slow to exit) must not keep the node up.
      setTimeout(() => process.exit(code), 3000).unref();
      return code;
    }
    if (cmd === 'status') return await runStatus(args);
    if (cmd === 'summary') return await runSummary(args);
    if (cmd === 'logs') return await runLogs(args);
    if (cmd === 'timeline') return await runTimeline(args);
    if (cmd === 'dashboard') return await runDashboard(args);
    return await runList(args);
  } catch (err) {
    process.stderr.write(`raybus ${cmd}: error: ${oneLine(err)}\n`);
    return 1;
  }
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`raybus: error: ${oneLine(err)}\n`);
    process.exitCode = 1;
  },
);
