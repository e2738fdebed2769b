/**
 * `raybus/testing`: helpers for testing code that uses raybus.
 */
export { embeddedNode } from '../api/init';
export { Cluster, type ClusterNode, type ClusterNodeOptions, type ClusterOptions } from './cluster';
