import type { FastifyInstance } from "fastify";
import { parseInput } from "../api-input.js";
import { CLIENT_AUTH } from "../flags/client-api.js";
import { type AppMetrics, releaseMetricsBody } from "./app-metrics.js";

/** Where @baton/runtime's `createReleaseMetrics` reports; auth: a client token, as for flags. */
export const RELEASE_METRICS_ROUTE = { method: "POST", path: "/api/client/release-metrics" } as const;

export function registerReleaseMetricsApi(app: FastifyInstance, metrics: AppMetrics): void {
  app.route({
    method: "POST",
    url: RELEASE_METRICS_ROUTE.path,
    config: CLIENT_AUTH,
    handler: async (request, reply) => {
      metrics.add(parseInput(releaseMetricsBody, request.body ?? {}, "body"));
      return reply.code(202).send();
    },
  });
}
