/**
 * `node:crypto`, loaded where it is first used. Requiring it loads all of Node's crypto
 * internals (ciphers, keys, X.509: about 0.8 MB of every process's RSS); an actor's worker
 * that never hashes a blob, ships code or draws an id of its own never needs them.
 */
type NodeCrypto = typeof import('node:crypto');

let loaded: NodeCrypto | undefined;

/** The `node:crypto` module (loaded on the first call). */
export function nodeCrypto(): NodeCrypto {
  return (loaded ??= require('node:crypto') as NodeCrypto);
}

/** `bytes` random bytes (a CSPRNG's), as hex. */
export function randomHex(bytes: number): string {
  return nodeCrypto().randomBytes(bytes).toString('hex');
}
