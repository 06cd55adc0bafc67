import type { IncomingMessage } from "node:http";
import type { ApiVersioning } from "./api-versioning.js";

/** The parts of Fastify the plugin uses (no import of Fastify). */
interface FastifyRequestLike {
  raw: IncomingMessage;
  body?: unknown;
}
interface FastifyReplyLike {
  statusCode: number;
  code(status: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  send(payload?: unknown): FastifyReplyLike;
}
interface FastifyLike {
  addHook(name: string, hook: (...args: never[]) => unknown): unknown;
}

/** The plugin, marked like `fastify-plugin` does, so its hooks apply to the whole application. */
export type FastifyApiVersioningPlugin = ((app: FastifyLike) => Promise<void>) & {
  [key: symbol]: unknown;
};

/**
 * A Fastify plugin (tested with Fastify 5): `app.register(fastifyApiVersioning(api))`. Hooks: onRequest resolves
 * the version (400 for an unknown one) and sets the version's headers; preValidation brings the
 * parsed body up to the canonical model, before the route's schema (written for the canonical
 * model) validates it; preSerialization writes 2xx objects back in the client's version. For path
 * versions, routing happens before any hook: create the app with `rewriteUrl: api.rewriteUrl`.
 */
export function fastifyApiVersioning(api: ApiVersioning): FastifyApiVersioningPlugin {
  const plugin = async (app: FastifyLike) => {
    app.addHook("onRequest", async (request: FastifyRequestLike, reply: FastifyReplyLike) => {
      const r = api.resolve(request.raw);
      if (!r.ok) return reply.code(r.status).send(r.body);
      for (const [k, v] of Object.entries(r.headers)) reply.header(k, v);
    });
    app.addHook("preValidation", async (request: FastifyRequestLike, reply: FastifyReplyLike) => {
      const r = api.versionOf(request.raw);
      if (!r || request.body === undefined) return;
      try {
        request.body = api.upgradeRequest(request.body, r);
      } catch (err) {
        const a = api.failure(err, r, "request");
        return reply.code(a.status).send(a.body);
      }
    });
    app.addHook(
      "preSerialization",
      async (request: FastifyRequestLike, reply: FastifyReplyLike, payload: unknown) => {
        const r = api.versionOf(request.raw);
        if (!r) return payload;
        try {
          return api.downgradeResponse(payload, r, reply.statusCode);
        } catch (err) {
          const a = api.failure(err, r, "response");
          reply.code(a.status);
          return a.body;
        }
      },
    );
  };
  return Object.assign(plugin, {
    [Symbol.for("skip-override")]: true,
    [Symbol.for("fastify.display-name")]: "@baton/runtime api versioning",
  });
}
