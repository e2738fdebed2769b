/**
 * Maximum bipartite matching (Kuhn's augmenting paths) of bundles to distinct nodes.
 * STRICT_SPREAD puts at most one bundle per node, so whether bundle b fits node n does not
 * depend on the other bundles: a perfect matching exists exactly when the group can be placed.
 */

/**
 * Assigns every bundle a distinct node from its candidate list, or returns null when no
 * such assignment exists. Candidates are tried in the order given.
 */
export function matchDistinct(candidates: readonly (readonly string[])[]): string[] | null {
  const owner = new Map<string, number>();
  const assigned: string[] = new Array<string>(candidates.length);

  const augment = (bundle: number, seen: Set<string>): boolean => {
    // A free node first, so bundles keep the node order when nothing competes for it.
    const free = candidates[bundle]?.find((nodeId) => !owner.has(nodeId) && !seen.has(nodeId));
    if (free !== undefined) {
      owner.set(free, bundle);
      assigned[bundle] = free;
      return true;
    }
    for (const nodeId of candidates[bundle] ?? []) {
      if (seen.has(nodeId)) continue;
      seen.add(nodeId);
      const other = owner.get(nodeId);
      if (other === undefined || augment(other, seen)) {
        owner.set(nodeId, bundle);
        assigned[bundle] = nodeId;
        return true;
      }
    }
    return false;
  };

  for (let b = 0; b < candidates.length; b++) {
    if (!augment(b, new Set())) return null;
  }
  return assigned;
}
