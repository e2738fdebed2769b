/**
 * A certificate authority and a server certificate for 127.0.0.1 / localhost, made with the
 * `openssl` command line for a test's own TLS brokers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findExecutable } from '../../support/server-process';

/** PEM files of a test CA and of a server certificate it signed. */
export interface TestCertificates {
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** Another CA that signed nothing here (a client trusting it must refuse the server). */
  readonly otherCaFile: string;
}

/** Why test certificates cannot be made here (no openssl), or undefined. */
export function certificatesProblem(): string | undefined {
  return findExecutable('openssl') ? undefined : 'openssl not found';
}

/** Make a CA, a server key and certificate (SAN 127.0.0.1, localhost), and an unrelated CA. */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-tls-'));
  const f = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  for (const ca of ['ca', 'other-ca']) {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${ca}.key`), '-out', f(`${ca}.pem`), '-days', '2', '-subj', `/CN=raybus test ${ca}`);
  }
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('san.ext'));
  return { dir, caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key'), otherCaFile: f('other-ca.pem') };
}
