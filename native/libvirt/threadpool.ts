// libuv's thread pool and this package. Every blocking libvirt call runs on
// the pool (koffi `.async`), and while libvirt's event loop runs (lifecycle
// subscriptions, keepalive) it holds one pool thread for good. libuv's default
// of 4 threads, shared with fs, dns and crypto, is too few for hostd: a slow
// save or domain start would queue everything else behind it.
//
// libuv reads UV_THREADPOOL_SIZE once, when the pool is first used, so hostd
// must set it in its environment (`UV_THREADPOOL_SIZE=16 node ...`) or call
// `configureThreadpool()` before anything touches the pool (first lines of its
// entry point, before any fs/dns/crypto work or libvirt call).

/** What hostd should run with. */
export const RECOMMENDED_UV_THREADPOOL_SIZE = 16;

/** libuv's default when UV_THREADPOOL_SIZE is unset. */
export const LIBUV_DEFAULT_THREADPOOL_SIZE = 4;

/** The pool size libuv uses (or will use) according to the environment. */
export function threadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number.parseInt(env.UV_THREADPOOL_SIZE ?? '', 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 1024) : LIBUV_DEFAULT_THREADPOOL_SIZE;
}

/**
 * Raise UV_THREADPOOL_SIZE to at least `min` unless the operator set it.
 * Only effective before the pool's first use; returns the size in effect.
 */
export function configureThreadpool(min: number = RECOMMENDED_UV_THREADPOOL_SIZE, env: NodeJS.ProcessEnv = process.env): number {
  if (env.UV_THREADPOOL_SIZE === undefined) env.UV_THREADPOOL_SIZE = String(min);
  return threadpoolSize(env);
}
