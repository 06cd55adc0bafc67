import { ConfigError } from "@baton/router";
import type { FastifyReply } from "fastify";
import { type ApiRoute, defineRoute } from "../api/api-route.js";
import { badRequest } from "../api-input.js";
import {
  clientTokenBody,
  clientTokenCreated,
  clientTokenList,
  clientTokenPath,
  clientTokenRevokeBody,
  clientTokenRevoked,
  flagActionBody,
  flagApplyBody,
  flagApplyQuery,
  flagApplyResult,
  flagDeleted,
  flagDetail,
  flagExport,
  flagHistory,
  flagList,
  flagPath,
  flagRecord,
  flagRolloutBody,
  flagSchedule,
  flagSwitchBody,
  flagWriteBody,
  historyQuery,
  scheduleCancelBody,
  scheduledChange,
  schedulePath,
  segment,
  segmentDeleteBody,
  segmentDeleted,
  segmentList,
  segmentPath,
  segmentWriteBody,
  staleFlagList,
  staleQuery,
} from "./flag-api-schemas.js";
import { parseFlagFile } from "./flag-file.js";
import type { FlagService } from "./flag-service.js";

const DB = "BATON_DATABASE_UNAVAILABLE" as const;

/**
 * The version a change is based on: `If-Match` (a version, as `GET` gives it in `ETag`) or the
 * body's `version`; both given must agree.
 */
function expectedVersion(reply: FastifyReply, fromBody: number | undefined): number | undefined {
  const header = reply.request.headers["if-match"];
  if (header === undefined) return fromBody;
  const m = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!m)
    throw badRequest(
      "If-Match",
      `If-Match: expected a flag version (a whole number), got ${JSON.stringify(header)}`,
    );
  const version = Number(m[1]);
  if (fromBody !== undefined && fromBody !== version)
    throw badRequest("version", `version ${fromBody} and If-Match ${version} disagree`);
  return version;
}

/**
 * A scheduled change applies to the flag as it is at its time: a version to base it on would make
 * it fail then, not now.
 */
function refuseVersion(reply: FastifyReply, fromBody: number | undefined): void {
  const field = fromBody !== undefined ? "version" : "If-Match";
  if (fromBody !== undefined || reply.request.headers["if-match"] !== undefined)
    throw badRequest(
      field,
      `${field}: a scheduled change (at) applies to the flag as it is at that time; leave out version and If-Match`,
    );
}

const SCHEDULED =
  "With `at`, nothing changes now: the change is scheduled (audited as flag.scheduled) and the answer is the scheduled change, state pending; the control plane makes it at its time.";

/** A flag file sent as text; what its YAML refuses is a 400 on `file` (not the CLI's config error). */
function readFile(text: string) {
  try {
    return parseFlagFile(text, "file");
  } catch (err) {
    if (err instanceof ConfigError)
      throw badRequest(
        "file",
        err.issues
          .map(
            (i) =>
              `file${i.line !== undefined ? ` line ${i.line}` : ""}: ${i.path || "(root)"}: ${i.message}`,
          )
          .join("; "),
      );
    throw err;
  }
}

/** The flag routes of the admin API (behind the admin token). */
export function flagRoutes(flags: FlagService): ApiRoute[] {
  const withTag = (reply: FastifyReply, record: { version: number }) => {
    reply.header("etag", `"${record.version}"`);
    return record;
  };
  return [
    defineRoute({
      method: "GET",
      path: "/v1/flags",
      operationId: "listFlags",
      summary: "Every feature flag, by name",
      response: { status: 200, description: "The flags", schema: flagList },
      errors: [DB],
      handle: () => flags.list(),
    }),
    defineRoute({
      method: "GET",
      path: "/v1/flags/export",
      operationId: "exportFlags",
      summary: "Every flag and segment in Unleash's client format, as `baton flags apply` takes it",
      response: { status: 200, description: "The flags and segments", schema: flagExport },
      errors: [DB],
      handle: async () => ({
        version: 2,
        features: (await flags.list()).map((r) => r.flag),
        segments: await flags.store.segments(),
      }),
    }),
    defineRoute({
      method: "GET",
      path: "/v1/flags/tokens",
      operationId: "listClientTokens",
      summary: "The client tokens of the flag client API (never the tokens themselves)",
      response: { status: 200, description: "Name, creation and last use of each", schema: clientTokenList },
      errors: [DB],
      handle: () => flags.tokens.list(),
    }),
    defineRoute({
      method: "POST",
      path: "/v1/flags/tokens",
      operationId: "createClientToken",
      summary: "Make a client token for SDKs (read-only; shown once)",
      body: clientTokenBody,
      response: {
        status: 200,
        description: "The token, the one time it is shown",
        schema: clientTokenCreated,
      },
      errors: ["BATON_FLAG_TOKEN_EXISTS", DB],
      handle: ({ body }) => flags.tokens.create(body.name, body.actor ?? "api"),
    }),
    defineRoute({
      method: "DELETE",
      path: "/v1/flags/tokens/:name",
      operationId: "revokeClientToken",
      summary: "Revoke a client token: requests with it are refused from now on",
      params: clientTokenPath,
      body: clientTokenRevokeBody,
      response: { status: 200, description: "Revoked", schema: clientTokenRevoked },
      errors: ["BATON_UNKNOWN_FLAG_TOKEN", DB],
      handle: ({ params, body }) => flags.tokens.revoke(params.name, body.actor ?? "api"),
    }),
    defineRoute({
      method: "POST",
      path: "/v1/flags/apply",
      operationId: "applyFlags",
      summary: "Create or replace many flags (and segments) at once: all or nothing",
      description:
        "Every flag and segment is checked before anything is written; one bad one is a 400 naming it and its field, and nothing changes. Flags equal to what is stored are left alone.",
      body: flagApplyBody,
      response: {
        status: 200,
        description: "What was created, changed or left alone",
        schema: flagApplyResult,
      },
      query: flagApplyQuery,
      errors: [DB],
      handle: ({ body, query }) => {
        // A file is read as `baton flags apply` reads it (YAML or JSON, any of its forms).
        const input =
          body.file !== undefined
            ? readFile(body.file)
            : { flags: body.flags ?? [], segments: body.segments ?? [] };
        return query.dryRun === "1"
          ? flags.planApply(input.flags, input.segments).then((plan) => ({ ...plan, dryRun: true as const }))
          : flags.apply(input.flags, input.segments, body.actor ?? "api");
      },
    }),
    defineRoute({
      method: "GET",
      path: "/v1/flags/segments",
      operationId: "listSegments",
      summary: "Every segment (a named set of constraints strategies share), by id",
      response: { status: 200, description: "The segments", schema: segmentList },
      errors: [DB],
      handle: () => flags.listSegments(),
    }),
    defineRoute({
      method: "PUT",
      path: "/v1/flags/segments/:id",
      operationId: "putSegment",
      summary: "Create or replace a segment",
      description:
        "Checked as `baton flags apply` checks segments; a bad constraint is a 400 naming its field. Flags using the segment see the change at once.",
      params: segmentPath,
      body: segmentWriteBody,
      response: { status: 200, description: "The segment as stored", schema: segment },
      errors: [DB],
      handle: ({ params, body }) => {
        const { actor, ...definition } = body;
        return flags.putSegment(params.id, definition, actor ?? "api");
      },
    }),
    defineRoute({
      method: "DELETE",
      path: "/v1/flags/segments/:id",
      operationId: "deleteSegment",
      summary: "Delete a segment no flag uses",
      params: segmentPath,
      body: segmentDeleteBody,
      response: { status: 200, description: "Deleted", schema: segmentDeleted },
      errors: ["BATON_UNKNOWN_SEGMENT", "BATON_SEGMENT_IN_USE", DB],
      handle: ({ params, body }) => flags.removeSegment(params.id, body.actor ?? "api", body.reason),
    }),
    defineRoute({
      method: "GET",
      path: "/v1/flags/schedule",
      operationId: "listFlagSchedule",
      summary: "Scheduled flag changes: those pending, and the last 50 applied, failed or cancelled",
      response: { status: 200, description: "The schedule", schema: flagSchedule },
      errors: [DB],
      handle: () => flags.schedule.list(),
    }),
    defineRoute({
      method: "DELETE",
      path: "/v1/flags/schedule/:id",
      operationId: "cancelScheduledFlagChange",
      summary: "Cancel a pending scheduled flag change",
      params: schedulePath,
      body: scheduleCancelBody,
      response: { status: 200, description: "The change, cancelled", schema: scheduledChange },
      errors: ["BATON_UNKNOWN_SCHEDULED_CHANGE", "BATON_SCHEDULE_NOT_PENDING", DB],
      handle: ({ params, body }) => flags.cancelScheduled(params.id, body.actor ?? "api"),
    }),
    defineRoute({
      method: "GET",
      path: "/v1/flags/stale",
      operationId: "listStaleFlags",
      summary: "Flags on or off for everyone and unchanged for a while: candidates for removal from the code",
      description:
        "Fully on: enabled, and some strategy gives everyone the flag (default, or a rollout at 100, without constraints or segments; or no strategies). Fully off: disabled, or every strategy a rollout at 0. Flags with a scheduled change pending or a variant split are left out.",
      query: staleQuery,
      response: {
        status: 200,
        description: "The stale flags, longest unchanged first",
        schema: staleFlagList,
      },
      errors: [DB],
      handle: async ({ query }) => ({
        olderThan: query.olderThan.text,
        flags: await flags.stale(query.olderThan.ms),
      }),
    }),
    defineRoute({
      method: "GET",
      path: "/v1/flags/:name",
      operationId: "getFlag",
      summary: "One flag, its version (also as ETag) and its reported evaluations",
      params: flagPath,
      response: { status: 200, description: "The flag", schema: flagDetail },
      errors: ["BATON_UNKNOWN_FLAG", DB],
      handle: async ({ params }, reply) => withTag(reply, await flags.get(params.name)),
    }),
    defineRoute({
      method: "PUT",
      path: "/v1/flags/:name",
      operationId: "putFlag",
      summary: "Create or replace a flag",
      description:
        "The body is the flag in Unleash's client format. With If-Match (or `version`) the change applies only to that version of the flag (0: only if it does not exist); otherwise to whatever is stored.",
      params: flagPath,
      body: flagWriteBody,
      response: { status: 200, description: "The flag as stored", schema: flagRecord },
      errors: ["BATON_FLAG_CONFLICT", DB],
      async handle({ params, body }, reply) {
        const { version, actor, reason, ...flag } = body;
        const record = await flags.put(params.name, flag, {
          actor: actor ?? "api",
          expectedVersion: expectedVersion(reply, version),
          reason,
        });
        return withTag(reply, record);
      },
    }),
    defineRoute({
      method: "DELETE",
      path: "/v1/flags/:name",
      operationId: "deleteFlag",
      summary: "Delete a flag",
      description: "With If-Match (or `version`), only that version of the flag is deleted.",
      params: flagPath,
      body: flagActionBody,
      response: { status: 200, description: "Deleted", schema: flagDeleted },
      errors: ["BATON_UNKNOWN_FLAG", "BATON_FLAG_CONFLICT", DB],
      handle: ({ params, body }, reply) =>
        flags.remove(params.name, {
          actor: body.actor ?? "api",
          expectedVersion: expectedVersion(reply, body.version),
          reason: body.reason,
        }),
    }),
    ...(["enable", "disable"] as const).map((action) =>
      defineRoute({
        method: "POST",
        path: `/v1/flags/:name/${action}`,
        operationId: `${action}Flag`,
        summary:
          action === "enable"
            ? "Turn a flag on (its strategies decide for whom)"
            : "Turn a flag off for everyone",
        description: SCHEDULED,
        params: flagPath,
        body: flagSwitchBody,
        response: { status: 200, description: "The flag as stored", schema: flagRecord },
        accepted: { description: "With `at`: the change, scheduled", schema: scheduledChange },
        errors: ["BATON_UNKNOWN_FLAG", "BATON_FLAG_CONFLICT", DB],
        async handle({ params, body }, reply) {
          const who = { actor: body.actor ?? "api", reason: body.reason };
          if (body.at !== undefined) {
            refuseVersion(reply, body.version);
            const scheduled = await flags.scheduleChange(params.name, { action, at: body.at }, who);
            reply.code(202);
            return scheduled;
          }
          const record = await flags.setEnabled(params.name, action === "enable", {
            actor: body.actor ?? "api",
            expectedVersion: expectedVersion(reply, body.version),
            reason: body.reason,
          });
          return withTag(reply, record);
        },
      }),
    ),
    defineRoute({
      method: "POST",
      path: "/v1/flags/:name/rollout",
      operationId: "setFlagRollout",
      summary: "Set the rollout percentage of a flag's first flexibleRollout strategy",
      description: SCHEDULED,
      params: flagPath,
      body: flagRolloutBody,
      response: { status: 200, description: "The flag as stored", schema: flagRecord },
      accepted: { description: "With `at`: the change, scheduled", schema: scheduledChange },
      errors: ["BATON_UNKNOWN_FLAG", "BATON_FLAG_CONFLICT", "BATON_FLAG_NO_ROLLOUT", DB],
      async handle({ params, body }, reply) {
        if (body.at !== undefined) {
          refuseVersion(reply, body.version);
          const scheduled = await flags.scheduleChange(
            params.name,
            { action: "rollout", percent: body.percent, at: body.at },
            { actor: body.actor ?? "api", reason: body.reason },
          );
          reply.code(202);
          return scheduled;
        }
        const record = await flags.setRollout(params.name, body.percent, {
          actor: body.actor ?? "api",
          expectedVersion: expectedVersion(reply, body.version),
          reason: body.reason,
        });
        return withTag(reply, record);
      },
    }),
    defineRoute({
      method: "GET",
      path: "/v1/flags/:name/history",
      operationId: "flagHistory",
      summary: "A flag's changes, newest first, each with who, when, why, before and after",
      params: flagPath,
      query: historyQuery,
      response: { status: 200, description: "The changes", schema: flagHistory },
      errors: [DB],
      handle: ({ params, query }) => flags.history(params.name, query.limit),
    }),
  ];
}
