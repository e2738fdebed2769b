// Facts about the machine and the software measured, for the report.
import os from 'node:os';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

const run = (cmd, args, timeoutMs) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout) => resolve(err ? undefined : String(stdout).trim()));
  });

// Read the manifests directly: amqplib's `exports` map does not expose its package.json.
const versionOf = (pkg) => {
  try {
    const file = pkg === 'raybus' ? '../package.json' : `../node_modules/${pkg}/package.json`;
    return JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8')).version;
  } catch {
    return undefined;
  }
};

/**
 * Cores, memory, Node, OS, package versions and the RabbitMQ version (from the AMQP server
 * properties when `amqpServer` is given, else from `rabbitmqctl version`).
 */
export async function machineFacts(amqpServer) {
  const cpus = os.cpus();
  const rabbit = amqpServer ?? ((v) => (v ? `RabbitMQ ${v.split('\n').pop()}` : undefined))(await run('rabbitmqctl', ['version'], 15_000));
  const commit = await run('git', ['rev-parse', '--short', 'HEAD'], 5_000);
  const dirty = await run('git', ['status', '--porcelain', '--untracked-files=no', 'src', 'adapters'], 5_000);
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    memoryGB: os.totalmem() / 1e9,
    loadAvg: os.loadavg(),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    rabbitmq: rabbit ?? 'not reachable',
    raybus: `${versionOf('raybus') ?? '?'}${commit ? ` (git ${commit}${dirty ? ', with uncommitted changes in src/' : ''})` : ''}`,
    amqplib: versionOf('amqplib') ?? 'not installed',
    moleculer: versionOf('moleculer') ?? 'not installed',
  };
}
