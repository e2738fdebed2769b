/**
 * `.options()` merging (Ray's `ray_option_utils.update_options`): a shallow merge where the override wins, except
 * `_metadata`, which merges per top-level key the way Ray's `update_options` does.
 */
import { isPlainObject } from './option-name';
import type { OptionMetadata } from './value-checks';

/**
 * Merges two `_metadata` bags: keys of both are kept; for a key whose old and new values are
 * both plain objects the result is `{ ...old[k], ...new[k] }`, otherwise the new value wins.
 */
export function mergeMetadata(base: OptionMetadata, override: OptionMetadata): OptionMetadata {
  const merged = new Map<string, unknown>(Object.entries(base));
  for (const [key, value] of Object.entries(override)) {
    const old = merged.get(key);
    merged.set(key, isPlainObject(old) && isPlainObject(value) ? { ...old, ...value } : value);
  }
  // fromEntries defines properties, so a namespace called "__proto__" stays a plain key.
  return Object.freeze(Object.fromEntries(merged));
}

/**
 * Shallow merge of two normalized option objects, `override` winning, with `_metadata`
 * merged by {@link mergeMetadata} when both sides hold one. An override of `null` resets
 * the option (`.options({ resources: null })`), `_metadata` included. Returns a frozen object.
 */
export function mergeOptionBags<T extends { readonly _metadata?: OptionMetadata | null }>(base: T, override: T): T {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value !== undefined) merged[key] = value;
  }
  if (base._metadata != null && override._metadata != null) {
    merged._metadata = mergeMetadata(base._metadata, override._metadata);
  }
  return Object.freeze(merged) as T;
}
