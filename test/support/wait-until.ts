/**
 * Poll a condition until it holds, bounded: for cluster facts that change asynchronously
 * (resource releases, a side actor's record) where no event exposes the change.
 */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
