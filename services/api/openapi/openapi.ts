// The API description, generated from the route schemas (never written by
// hand): @fastify/swagger collects every route's schema as it is registered,
// so it must be registered before the routes. `GET /openapi.json` serves the
// document and `/docs` a browsable reference (swagger-ui's own files, served
// by forkd: no CDN). Both answer without a key: they describe the API, they
// reveal nothing about what runs on it.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { ERRORS } from '../../contracts/errors.js';
import { FORKD_VERSION } from '../../contracts/version.js';

/** The routes this file adds, public on purpose (server.ts PUBLIC_ROUTES / PUBLIC_PREFIXES). */
export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PREFIX = '/docs';

/** The error body every failing route answers (errors.ts), with the catalogue's codes. */
export const errorBodySchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERRORS) },
        message: { type: 'string' },
        field: { type: 'string', description: 'The request field at fault (4xx).' },
        detail: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

interface RouteSchema {
  tags?: string[];
  security?: unknown[];
  response?: Record<string, unknown>;
  hide?: boolean;
}

/** Registers the document builder and the /docs UI; call on the root before any route. */
export async function registerOpenApi(app: FastifyInstance, publicRoutes: ReadonlySet<string>): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'forkd',
        version: FORKD_VERSION,
        description: 'Containers in their own VMs, forked from warm templates. Every route but /healthz and this document needs `Authorization: Bearer <key>`. Errors answer `{"error":{"code","message","field"?}}` with the codes of docs/errors.md.',
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'A forkd API key (the admin key is in $FORKD_DATA_DIR/admin.key; tenant keys from `forkd key create`).' } },
        schemas: { Error: errorBodySchema as unknown as Record<string, unknown> },
      },
      security: [{ apiKey: [] }],
    },
    // Only the document changes here, never validation: group by resource, mark public routes, add the error answers.
    transform: ({ schema, url, route }) => {
      const s = { ...(schema as RouteSchema | undefined) } as RouteSchema & { description?: string };
      // @fastify/websocket hides its routes; ours are part of the API (docs/streams.md has the protocol).
      if ((route as { websocket?: boolean }).websocket) {
        s.hide = false;
        s.description ??= 'A WebSocket (GET with Upgrade: websocket); the messages are described in docs/streams.md.';
      }
      if (s.hide) return { schema: s as never, url };
      const resource = /^\/v1\/([^/]+)/.exec(url)?.[1] ?? 'public';
      s.tags ??= [resource];
      if (publicRoutes.has(url)) s.security = [];
      else s.response = { ...s.response, '4XX': { description: 'A client error (see docs/errors.md)', ...errorBodySchema }, '5XX': { description: 'A server or host error', ...errorBodySchema } };
      return { schema: s as never, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX, staticCSP: true, uiConfig: { docExpansion: 'list', deepLinking: true } });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}
