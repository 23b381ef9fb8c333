// Waiting for something that should settle soon without letting it hold up
// the waiter, or the process's exit, forever.

/** Resolves when `p` settles (fulfilled or rejected) or after `maxMs`, whichever is first; the timer never keeps the process alive. */
export async function settledWithin(p: Promise<unknown>, maxMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, maxMs);
    timer.unref();
  });
  try {
    await Promise.race([p.then(() => undefined, () => undefined), cap]);
  } finally {
    clearTimeout(timer);
  }
}
