// How forkd's HTTP servers close: requests still running get a bounded drain,
// then every socket goes. Node's server.close() waits for each connection to
// end on its own, and a client's idle keep-alive connection (or one that
// connected and never sent a request) ends only when the client's keep-alive
// timer fires: 4 s for fetch (undici), up to fastify's 72 s for a client that
// keeps connections longer. That held every `forkd api` stop (and every test
// stack's stop: 70 s in one file) for nothing.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

/** How long a stop lets running requests finish before cutting them. */
export const HTTP_DRAIN_MS = 10_000;

/**
 * Counts the server's running requests and, once fastify is closing (new
 * requests are answered 503 by then), waits for them up to `drainMs` and
 * destroys every connection left, idle or not, so server.close() can finish.
 * Register before listen. Follower routes end their own streams in their
 * preClose hooks, which is what lets the drain end early.
 */
export function closeConnectionsOnClose(app: FastifyInstance, drainMs = HTTP_DRAIN_MS): void {
  let running = 0;
  const idle: (() => void)[] = [];
  app.server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    running++;
    res.once('close', () => {
      running--;
      if (running === 0) for (const wake of idle.splice(0)) wake();
    });
  });
  // Not awaited: the other preClose hooks (ending followers) must run before the drain can end.
  app.addHook('preClose', async () => {
    void (async () => {
      if (running > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, drainMs);
          timer.unref();
          idle.push(() => { clearTimeout(timer); resolve(); });
        });
      }
      app.server.closeAllConnections();
    })();
  });
}
