#!/usr/bin/env node
/**
 * The `raybus` command line (API.md §10). Every failure prints one clear line and exits
 * non-zero.
 */
const USAGE = `raybus — Ray Core's programming model for Node.js

Usage:
  raybus start --address amqp://... [--num-cpus N] [--num-gpus N] [--memory BYTES]
               [--resources '{"X":2}'] [--accelerator-type T] [--import module ...]
  raybus status --address amqp://...
  raybus list nodes|actors|tasks|placement-groups --address amqp://... [--json]
  raybus --version | --help

Without a cluster, nothing needs starting: call ray.init() in your program for the
embedded default.`;

function main(argv: string[]): number {
  const [cmd] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return cmd ? 0 : 1;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(`${(require('../../../package.json') as { version: string }).version}\n`);
    return 0;
  }
  if (cmd === 'start' || cmd === 'status' || cmd === 'list') {
    process.stderr.write(`raybus ${cmd}: cluster mode needs the RabbitMQ transport, which this build does not include yet.\n`);
    return 2;
  }
  process.stderr.write(`raybus: unknown command '${cmd}'. Run 'raybus --help'.\n`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
