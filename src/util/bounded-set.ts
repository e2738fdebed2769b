/**
 * Sets that remember only their latest entries (cancels seen early, dead owners, removed
 * placement groups): a Set keeps insertion order, so the oldest entry is its first.
 */

/** Add `item` to `set`; past `max` entries the oldest goes. Returns the entry that went, if one did. */
export function addBounded<T>(set: Set<T>, item: T, max: number): T | undefined {
  set.add(item);
  if (set.size <= max) return undefined;
  const oldest = set.values().next().value as T;
  set.delete(oldest);
  return oldest;
}
