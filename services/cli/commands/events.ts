// `forkd events`: follows GET /v1/events and prints one line an event (or the
// events as NDJSON with --json). Ends on Ctrl-C, or at --until.
import type { ForkdEvent } from '../../contracts/events/index.js';
import { ApiClient } from '../api-client.js';
import { ndjsonLines } from '../streams.js';
import type { Command } from '../command.js';
import { tenantQuery, TENANT_OPTIONS } from '../tenant-options.js';

export const eventsCommand: Command = {
  path: ['events'],
  summary: 'Follow lifecycle events (containers, VMs, templates, images, networks, volumes) as they happen',
  usage: 'forkd events [--json] [--since ID|MS|DATE] [--until MS|DATE] [--filter type=container] [--filter action=die] [--tenant T | --all-tenants]',
  options: {
    json: { type: 'boolean', short: 'j' },
    since: { type: 'string' },
    until: { type: 'string' },
    filter: { type: 'string', short: 'f', multiple: true },
    ...TENANT_OPTIONS,
  },
  async run({ values }) {
    const filters: Record<string, string[]> = {};
    for (const f of (values.filter as string[] | undefined) ?? []) {
      const i = f.indexOf('=');
      const [k, v] = i < 0 ? [f, ''] : [f.slice(0, i), f.slice(i + 1)];
      (filters[k] ??= []).push(v);
    }
    const q = new URLSearchParams();
    if (values.since) q.set('since', String(values.since));
    if (values.until) q.set('until', String(values.until));
    if (Object.keys(filters).length > 0) q.set('filters', JSON.stringify(filters));
    for (const [k, v] of Object.entries(tenantQuery(values))) q.set(k, v);
    const ac = new AbortController();
    process.once('SIGINT', () => ac.abort());
    const res = await ApiClient.fromEnv().fetch('GET', `/v1/events${q.size ? `?${q}` : ''}`, undefined, { signal: ac.signal, headers: { accept: 'application/x-ndjson' } });
    try {
      for await (const line of ndjsonLines(res.body)) {
        process.stdout.write(values.json ? `${line}\n` : `${formatEvent(JSON.parse(line) as ForkdEvent)}\n`);
      }
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    }
    return 0;
  },
};

/** `2026-11-30T21:00:00.000Z container die c-1234 (3f2a…) exitCode=3, oomKilled=false`, like `docker events`. */
export function formatEvent(e: ForkdEvent): string {
  const attrs = Object.entries(e.actor.attributes).map(([k, v]) => `${k}=${v}`).join(', ');
  return `${new Date(e.time).toISOString()} ${e.type} ${e.action} ${e.actor.name ? `${e.actor.name} (${e.actor.id})` : e.actor.id}${attrs ? ` ${attrs}` : ''}`;
}
