import type { FastifyInstance } from "fastify";
import { parseInput } from "../api-input.js";
import { BatonControlError } from "../errors.js";
import { clientMetricsBody } from "./flag-metrics.js";
import { clientOutcomesBody } from "./flag-outcomes.js";
import type { FlagService } from "./flag-service.js";

/** The routes of Unleash's client API that Baton answers; their auth is a client token. */
export const CLIENT_ROUTES = [
  { method: "GET", path: "/api/client/features" },
  { method: "GET", path: "/api/client/streaming" },
  { method: "POST", path: "/api/client/register" },
  { method: "POST", path: "/api/client/metrics" },
  { method: "POST", path: "/api/client/outcomes" },
] as const;

/** Route config that marks a client-API route: `buildApi`'s auth hook checks a client token. */
export const CLIENT_AUTH = { public: false, auth: "client" } as const;

/**
 * Unleash's client API (`/api/client/...`), read-only, for Unleash's SDKs in any language and for
 * Baton's: the state in Unleash's format with a strong ETag, the streaming API, and the SDKs'
 * registration and metrics. Answered from memory: an SDK request never waits on the database.
 */
export function registerClientApi(app: FastifyInstance, flags: FlagService): void {
  app.route({
    method: "GET",
    url: "/api/client/features",
    config: CLIENT_AUTH,
    handler: async (request, reply) => {
      const params = new URLSearchParams(request.url.split("?")[1] ?? "");
      const project = params.getAll("project").filter(Boolean);
      const namePrefix = params.get("namePrefix") ?? undefined;
      const { body, etag } = flags.snapshot.clientFeatures({
        ...(project.length ? { project } : {}),
        ...(namePrefix ? { namePrefix } : {}),
      });
      reply.header("etag", etag).header("cache-control", "no-cache");
      if (matches(request.headers["if-none-match"], etag)) return reply.code(304).send();
      return reply.code(200).header("content-type", "application/json; charset=utf-8").send(body);
    },
  });

  app.route({
    method: "GET",
    url: "/api/client/streaming",
    config: CLIENT_AUTH,
    handler: (request, reply) => {
      // The stream outlives the handler: Fastify sends nothing more on this response.
      reply.hijack();
      flags.stream.connect(request.raw, reply.raw);
    },
  });

  app.route({
    method: "POST",
    url: "/api/client/register",
    config: CLIENT_AUTH,
    // Who runs which SDK is not kept; accepted so that SDKs do not warn.
    handler: async (_request, reply) => reply.code(202).send(),
  });

  app.route({
    method: "POST",
    url: "/api/client/metrics",
    config: CLIENT_AUTH,
    handler: async (request, reply) => {
      flags.metrics.add(parseInput(clientMetricsBody, request.body ?? {}, "body"));
      return reply.code(202).send();
    },
  });

  // Baton's own: per flag, how the requests that saw it on and off went (guarded rollouts).
  app.route({
    method: "POST",
    url: "/api/client/outcomes",
    config: CLIENT_AUTH,
    handler: async (request, reply) => {
      const report = parseInput(clientOutcomesBody, request.body ?? {}, "body");
      flags.outcomes.add(report, (name) => flags.snapshot.has(name));
      return reply.code(202).send();
    },
  });
}

/** The client-API auth check: a client token (raw, as Unleash's SDKs send it, or `Bearer <token>`). */
export function checkClientToken(flags: FlagService | undefined, authorization: string | undefined): void {
  if (flags?.tokens.check(authorization) === undefined)
    throw new BatonControlError(
      "BATON_UNAUTHORIZED",
      "missing or wrong client token: the client API takes a client token (baton flags token create), not the admin token",
    );
}

/** Whether `If-None-Match` names `etag` (or is `*`). */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header
    .split(",")
    .map((t) => t.trim().replace(/^W\//, ""))
    .some((t) => t === "*" || t === etag);
}
