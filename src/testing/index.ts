/**
 * `raybus/testing`: helpers for testing code that uses raybus.
 */
export { embeddedNode } from '../api/init';
