import type { IncomingMessage, ServerResponse } from "node:http";
import type { FlagClient } from "./create-flag-client.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * Follows one response to its end: a 5xx, a handler that threw, or a response closed before it
 * was finished by the server is a failure; a client that went away before the answer is counted
 * as neither (it says nothing about the flag).
 */
function follow(client: FlagClient, res: ServerResponse): ReturnType<FlagClient["requests"]["begin"]> {
  const scope = client.requests.begin();
  res.once("finish", () => client.requests.end(scope, res.statusCode >= 500));
  res.once("close", () => {
    if (!res.writableFinished && res.headersSent) client.requests.end(scope, true);
  });
  return scope;
}

/**
 * node:http: wraps a request handler so that the flags it evaluates are attributed to the
 * request, whose outcome (status, latency) is reported for guarded rollouts.
 *
 *   http.createServer(withFlagOutcomes(flags, (req, res) => { ... flags.isEnabled("x", ctx) ... }))
 */
export function withFlagOutcomes<H extends Handler>(client: FlagClient, handler: H): H {
  return ((req: IncomingMessage, res: ServerResponse) => {
    const scope = follow(client, res);
    try {
      const result = client.requests.run(scope, () => handler(req, res));
      if (result instanceof Promise) result.catch(() => client.requests.end(scope, true)).catch(() => {});
      return result;
    } catch (error) {
      client.requests.end(scope, true);
      throw error;
    }
  }) as H;
}

/**
 * Express (or Connect) middleware: `app.use(flagOutcomes(flags))`. Put it after body parsers,
 * whose callbacks run outside the request's async context.
 */
export function flagOutcomes(client: FlagClient) {
  return (_req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void => {
    const scope = follow(client, res);
    client.requests.run(scope, () => next());
  };
}

/** The part of a Fastify instance the hooks need (Fastify itself is not a dependency). */
interface FastifyLike {
  addHook(
    name: "onRequest" | "preHandler",
    hook: (request: object, reply: { raw: ServerResponse }, done: () => void) => void,
  ): unknown;
}

const SCOPE = Symbol("baton.flagOutcomes");

/**
 * Fastify: `fastifyFlagOutcomes(app, flags)` before routes are added (on the root instance, so
 * that every route is followed). The request is entered again just before the handler, since
 * body parsing runs outside its async context.
 */
export function fastifyFlagOutcomes(app: FastifyLike, client: FlagClient): void {
  app.addHook("onRequest", (request, reply, done) => {
    const scope = follow(client, reply.raw);
    (request as Record<symbol, unknown>)[SCOPE] = scope;
    client.requests.run(scope, done);
  });
  app.addHook("preHandler", (request, _reply, done) => {
    const scope = (request as Record<symbol, unknown>)[SCOPE] as
      | ReturnType<FlagClient["requests"]["begin"]>
      | undefined;
    if (scope) client.requests.enter(scope);
    done();
  });
}
