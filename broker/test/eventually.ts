// Polls until a probe gives a value (not undefined); errors count as "not yet" (a paused etcd
// refuses calls for a while), and the last one is named if time runs out.
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const result = await probe();
      if (result !== undefined) return result;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** Polls `check`, which asserts (expect), until it passes; the last failure is named if time runs out. */
export function eventuallyPasses(what: string, check: () => Promise<void> | void, timeoutMs?: number): Promise<true> {
  return eventually(
    what,
    async () => {
      await check();
      return true as const;
    },
    timeoutMs,
  );
}
