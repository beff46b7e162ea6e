// Bounded parallelism: at most `limit` calls of `fn` in flight, results in input order.

/**
 * Maps `items` through `fn` with at most `limit` calls running at once. Results keep the input
 * order. The first rejection rejects the whole call once the calls in flight have settled, and no
 * new call starts after it (callers that want every result make `fn` return failures as values).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const n = Math.max(1, Math.floor(limit) || 1);
  const results = new Array<R>(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed) throw failed.error;
  return results;
}
