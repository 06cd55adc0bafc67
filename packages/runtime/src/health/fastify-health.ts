import type { IncomingMessage, ServerResponse } from "node:http";
import { type Health, sendHealthAnswer } from "./health.js";

/** The part of a Fastify instance the plugin uses (typed here, so Fastify is not a dependency). */
export interface FastifyRoutes {
  route(route: {
    method: string | string[];
    url: string;
    handler: (req: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => void;
  }): unknown;
}

/**
 * A Fastify plugin (4 and 5) serving `h`'s endpoints: `fastify.register(fastifyHealth(h))`, with
 * a `prefix` if wanted (HEAD comes with Fastify's automatic HEAD routes). The reply is hijacked
 * and written by the same code as the node:http handler's, so the answers are identical.
 */
export function fastifyHealth(h: Health): (fastify: FastifyRoutes) => Promise<void> {
  const routes: [string, () => ReturnType<Health["readiness"]> | ReturnType<Health["liveness"]>][] = [
    [h.paths.live, () => h.liveness()],
    [h.paths.ready, () => h.readiness()],
    [h.paths.startup, () => h.startup()],
  ];
  return async (fastify) => {
    for (const [url, answer] of routes)
      fastify.route({
        method: "GET",
        url,
        handler: (req, reply) => {
          reply.hijack();
          sendHealthAnswer(req.raw, reply.raw, answer());
        },
      });
  };
}
