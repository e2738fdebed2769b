/**
 * Plain classes that tests turn into actors with `ray.remote(...)`. Self-contained, so they
 * travel to workers by value.
 */

/** Counts calls: lets a test prove that something did (or did not) run. */
export class HitCounter {
  hits = 0;
  hit(): number {
    return ++this.hits;
  }
  count(): number {
    return this.hits;
  }
}
