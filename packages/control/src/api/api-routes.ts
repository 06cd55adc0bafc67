import { stat } from "node:fs/promises";
import {
  actorBody,
  badRequest,
  deployBody,
  logsQuery,
  releasePath,
  releaseQuery,
  releasesQuery,
  rollbackBody,
} from "../api-input.js";
import type { ApiOptions, ReleaseControl } from "../api-server.js";
import { auditRoutes } from "../audit/audit-routes.js";
import { BatonControlError } from "../errors.js";
import { flagRoutes } from "../flags/flag-routes.js";
import { guardedRolloutRoutes } from "../flags/guarded-rollout-routes.js";
import { migrationRoutes } from "../migration/migration-routes.js";
import { type ApiRoute, defineRoute } from "./api-route.js";
import {
  aborting,
  auditVerification,
  logTailList,
  openApiObject,
  promoted,
  release,
  releaseAnalysis,
  releaseDetail,
  releaseList,
  releaseTimeline,
  status,
  stopping,
} from "./api-schemas.js";
import { openApiDocument } from "./openapi-document.js";

const ROUTER = ["BATON_ROUTER_UNREACHABLE", "BATON_ROUTER_REFUSED"] as const;

/**
 * Every route of the control plane's API; `POST /v1/down` only when `onDown` is given, the flag
 * routes only when `flags` is.
 */
export function apiRoutes(
  plane: ReleaseControl,
  opts: Pick<ApiOptions, "onDown" | "extraStatus" | "flags" | "rollouts" | "migration">,
): ApiRoute[] {
  let document: object | undefined;
  const routes: ApiRoute[] = [
    defineRoute({
      method: "POST",
      path: "/v1/deploy",
      operationId: "deploy",
      summary: "Start a release of a version",
      description:
        "Records the release and runs it in the background by the service's strategy (the first " +
        "release of a service: all traffic once its instances are ready). Follow it with " +
        "`GET /v1/releases/{id}?wait=1`.",
      body: deployBody,
      response: { status: 202, description: "The release, as recorded", schema: release },
      errors: ["BATON_RELEASE_IN_PROGRESS", "BATON_UNKNOWN_VERSION", "BATON_DATABASE_UNAVAILABLE", ...ROUTER],
      async handle({ body }) {
        if (body.dir !== undefined) {
          const info = await stat(body.dir).catch(() => undefined);
          if (!info?.isDirectory())
            throw badRequest("dir", `dir ${body.dir} is not a directory on the control plane's machine`);
        }
        return plane.deploy({
          ...(body.version !== undefined ? { version: body.version } : {}),
          ...(body.dir !== undefined ? { cwd: body.dir } : {}),
          ...(body.strategy ? { strategy: body.strategy } : {}),
          env: body.env ?? {},
          ...(body.instances ? { instances: body.instances } : {}),
          actor: body.actor ?? "api",
        });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/v1/status",
      operationId: "status",
      summary: "What serves, and the latest release with its decisions",
      response: { status: 200, description: "One service's status, or each region's", schema: status },
      errors: ["BATON_DATABASE_UNAVAILABLE"],
      async handle() {
        const current = (await plane.status()) as Record<string, unknown>;
        return opts.extraStatus ? { ...current, ...opts.extraStatus() } : current;
      },
    }),
    defineRoute({
      method: "GET",
      path: "/v1/releases",
      operationId: "listReleases",
      summary: "Past releases, newest first",
      query: releasesQuery,
      response: { status: 200, description: "The releases", schema: releaseList },
      errors: ["BATON_DATABASE_UNAVAILABLE"],
      handle: ({ query }) => plane.history(query.limit),
    }),
    defineRoute({
      method: "GET",
      path: "/v1/releases/:id",
      operationId: "getRelease",
      summary: "One release with its analysis decisions",
      params: releasePath,
      query: releaseQuery,
      response: { status: 200, description: "The release and its decisions", schema: releaseDetail },
      errors: ["BATON_UNKNOWN_RELEASE", "BATON_DATABASE_UNAVAILABLE"],
      async handle({ params: { id }, query }) {
        const found = query.wait === "1" ? await plane.wait(id) : await plane.store.get(id);
        if (!found) throw new BatonControlError("BATON_UNKNOWN_RELEASE", `no release ${id}`);
        return { release: found, decisions: await plane.store.decisions(id) };
      },
    }),
    defineRoute({
      method: "GET",
      path: "/v1/releases/:id/analysis",
      operationId: "getReleaseAnalysis",
      summary: "A release's analysis over time",
      description:
        "Its looks (one every 2 s at first, sparser as a step grows old, and each one whose " +
        "decision changed): both sides' numbers and the bounds the sequential tests used, with the " +
        "tolerances they were tested against, so the comparison can be drawn over time.",
      params: releasePath,
      response: { status: 200, description: "The looks, oldest first", schema: releaseAnalysis },
      errors: ["BATON_UNKNOWN_RELEASE", "BATON_DATABASE_UNAVAILABLE"],
      async handle({ params: { id } }) {
        const found = await plane.store.get(id);
        if (!found) throw new BatonControlError("BATON_UNKNOWN_RELEASE", `no release ${id}`);
        const analysis = (found.settings.analysis ?? {}) as Record<string, unknown>;
        return { releaseId: id, analysis, looks: await plane.store.looks(id) };
      },
    }),
    defineRoute({
      method: "GET",
      path: "/v1/releases/:id/events",
      operationId: "getReleaseTimeline",
      summary: "A release's timeline",
      description:
        "What the release said as it ran, with times: instances started and ready, weights set, " +
        "analysis verdicts, drains, the migration's progress (at most 2,000 lines a release).",
      params: releasePath,
      response: { status: 200, description: "The lines, oldest first", schema: releaseTimeline },
      errors: ["BATON_UNKNOWN_RELEASE", "BATON_DATABASE_UNAVAILABLE"],
      async handle({ params: { id } }) {
        if (!(await plane.store.get(id)))
          throw new BatonControlError("BATON_UNKNOWN_RELEASE", `no release ${id}`);
        return { releaseId: id, events: await plane.store.events(id) };
      },
    }),
    defineRoute({
      method: "POST",
      path: "/v1/promote",
      operationId: "promote",
      summary: "Let the release in flight past its pause",
      body: actorBody,
      response: { status: 202, description: "It moves on at its next look", schema: promoted },
      errors: ["BATON_NO_RELEASE_RUNNING"],
      handle() {
        plane.promote();
        return { promoted: true };
      },
    }),
    defineRoute({
      method: "POST",
      path: "/v1/abort",
      operationId: "abort",
      summary: "Roll the release in flight back",
      body: actorBody,
      response: { status: 202, description: "Traffic goes back at the next look", schema: aborting },
      errors: ["BATON_NO_RELEASE_RUNNING"],
      handle({ body }) {
        plane.abort(body.actor ?? "api");
        return { aborting: true };
      },
    }),
    defineRoute({
      method: "POST",
      path: "/v1/rollback",
      operationId: "rollback",
      summary: "Back to the previous release",
      description:
        "One switch while the previous version is warm (keepPreviousFor, after every strategy); otherwise it restarts all at once, health-gated, or by the strategy given.",
      body: rollbackBody,
      response: { status: 202, description: "The rollback's release, as recorded", schema: release },
      errors: [
        "BATON_NOTHING_TO_ROLL_BACK",
        "BATON_RELEASE_IN_PROGRESS",
        "BATON_UNKNOWN_VERSION",
        "BATON_DATABASE_UNAVAILABLE",
        ...ROUTER,
      ],
      handle: ({ body }) =>
        plane.rollback({ actor: body.actor ?? "api", ...(body.strategy ? { strategy: body.strategy } : {}) }),
    }),
    defineRoute({
      method: "GET",
      path: "/v1/logs",
      operationId: "logs",
      summary: "The last lines of each instance's log",
      query: logsQuery,
      response: { status: 200, description: "One tail per instance", schema: logTailList },
      errors: [],
      handle: ({ query }) => plane.logs(query.version, query.lines),
    }),
    defineRoute({
      method: "GET",
      path: "/v1/audit/verify",
      operationId: "verifyAudit",
      summary: "Check that no audit event was changed, removed or reordered",
      response: {
        status: 200,
        description: "The chain's problems (none: intact)",
        schema: auditVerification,
      },
      errors: ["BATON_DATABASE_UNAVAILABLE"],
      handle: () => plane.audit.verify(),
    }),
    defineRoute({
      method: "GET",
      path: "/v1/openapi.json",
      operationId: "openApi",
      summary: "This API, described (OpenAPI 3.1)",
      description:
        "Needs no token: it says what the API accepts, nothing about what it holds, and tools " +
        "(a dashboard, client generators) read it before they have one.",
      public: true,
      response: { status: 200, description: "The OpenAPI document", schema: openApiObject },
      errors: [],
      handle: () => (document ??= openApiDocument(routes)),
    }),
  ];
  routes.push(...auditRoutes(plane.audit));
  if (opts.flags) routes.push(...flagRoutes(opts.flags));
  if (opts.rollouts) routes.push(...guardedRolloutRoutes(opts.rollouts));
  if (opts.migration) routes.push(...migrationRoutes(opts.migration));
  const { onDown } = opts;
  if (onDown)
    routes.push(
      defineRoute({
        method: "POST",
        path: "/v1/down",
        operationId: "down",
        summary: "Stop the instances, the router and `baton up`",
        body: actorBody,
        response: { status: 202, description: "Stopping; the API goes away", schema: stopping },
        errors: [],
        handle(_, reply) {
          // After the answer has left: stopping closes this server.
          reply.raw.once("close", onDown);
          return { stopping: true };
        },
      }),
    );
  return routes;
}
