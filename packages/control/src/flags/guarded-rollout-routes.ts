import { parseDuration } from "@baton/router";
import { z } from "zod";
import { type ApiRoute, defineRoute } from "../api/api-route.js";
import { apiSchemas } from "../api/api-schemas.js";
import { actorBody, badRequest } from "../api-input.js";
import { flagPath } from "./flag-api-schemas.js";
import type { GuardedRollouts } from "./guarded-rollouts.js";

const DB = "BATON_DATABASE_UNAVAILABLE" as const;
const actor = actorBody.shape.actor;
const duration = z
  .string()
  .max(32)
  .regex(/^\d+(?:\.\d+)?(?:ms|s|m|h|d)$/, 'must be a duration such as "30s", "5m" or "500ms"');

const startBody = z
  .strictObject(
    {
      steps: z
        .array(z.number({ error: "must be a number" }))
        .min(1, "give at least one percentage")
        .max(20, "at most 20 steps")
        .describe("The percentages, in order, each above the one before (e.g. [5, 25, 50, 100])"),
      pause: duration
        .optional()
        .describe("How long each step holds at least (default 0s: as soon as it passes)"),
      minRequests: z
        .number()
        .int()
        .min(1)
        .max(10_000_000)
        .optional()
        .describe("Requests with the flag on a step needs before it may pass (default 1000)"),
      maxErrorRateIncrease: z.number().min(0).max(1).optional().describe("Default 0.02 (2 points)"),
      maxP95IncreaseMs: z.number().min(0).max(600_000).optional().describe("Default 200"),
      confidence: z.number().min(0.5).max(0.9999).optional().describe("Default 0.99"),
      maxInconclusive: duration
        .optional()
        .describe("A step inconclusive this long (too little traffic) pauses for a human (default 5m)"),
      actor: actor.optional(),
    },
    { error: "the body must be a JSON object" },
  )
  .register(apiSchemas, { id: "GuardedRolloutRequest" });

const rollout = z
  .looseObject({
    id: z.number(),
    flag: z.string(),
    steps: z.array(z.number()),
    pauseMs: z.number(),
    state: z.enum(["running", "paused", "succeeded", "rolled-back", "aborted"]),
    step: z.number().describe("Index of the step applied now (-1: none yet)"),
    percent: z.number().describe("The percentage the flag is at, by the rollout's account"),
    lastGood: z.number().describe("Where a failure puts the flag back"),
    reason: z.string().nullable().describe("Why it is in its state, with the analysis's numbers"),
    verdict: z.record(z.string(), z.unknown()).nullable(),
    createdBy: z.string(),
    createdAt: z.string(),
    endedAt: z.string().nullable(),
    look: z
      .looseObject({
        stepElapsedMs: z.number(),
        decision: z.enum(["pass", "fail", "inconclusive"]),
        reason: z.string(),
        requests: z.object({ on: z.number(), off: z.number() }),
      })
      .optional()
      .describe("While it runs: the current look at its step"),
  })
  .register(apiSchemas, { id: "GuardedRollout" });

// Every body and answer is named: the OpenAPI document refers to its components by name.
const rolloutList = z.array(rollout).register(apiSchemas, { id: "GuardedRolloutList" });
const rolloutActionBody = z
  .strictObject({ actor: actor.optional() }, { error: "the body must be a JSON object" })
  .register(apiSchemas, { id: "GuardedRolloutActionRequest" });

function ms(field: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = parseDuration(text);
  if (value === undefined || value > 7 * 86_400_000)
    throw badRequest(field, `${field}: ${JSON.stringify(text)} is not a duration of at most 7d`);
  return value;
}

/** The guarded-rollout routes of the admin API. */
export function guardedRolloutRoutes(rollouts: GuardedRollouts): ApiRoute[] {
  const action = (path: "abort" | "promote", summary: string) =>
    defineRoute({
      method: "POST",
      path: `/v1/flags/:name/guarded-rollout/${path}`,
      operationId: `${path}GuardedRollout`,
      summary,
      params: flagPath,
      body: rolloutActionBody,
      response: { status: 200, description: "The rollout", schema: rollout },
      errors: ["BATON_UNKNOWN_FLAG", "BATON_NO_FLAG_ROLLOUT", DB],
      handle: ({ params, body }) =>
        path === "abort"
          ? rollouts.abort(params.name, body.actor ?? "api")
          : rollouts.promote(params.name, body.actor ?? "api"),
    });
  return [
    defineRoute({
      method: "POST",
      path: "/v1/flags/:name/guarded-rollout",
      operationId: "startGuardedRollout",
      summary: "Move a flag's rollout percentage step by step, each step judged (on against off)",
      description:
        "At every look (each second) the requests that saw the flag on are compared with those that saw it off, as the SDKs report them (POST /api/client/outcomes), by the sequential analysis that judges canaries. A failed look puts the flag back to its last good percentage at once, with the reason and its numbers in the rollout, the flag's history and the audit chain.",
      params: flagPath,
      body: startBody,
      response: { status: 202, description: "Started: its first step is applied", schema: rollout },
      errors: ["BATON_UNKNOWN_FLAG", "BATON_FLAG_NOT_ROLLABLE", "BATON_FLAG_ROLLOUT_RUNNING", DB],
      handle: ({ params, body }) => {
        const maxInconclusiveMs = ms("maxInconclusive", body.maxInconclusive);
        const analysis = Object.fromEntries(
          Object.entries({
            minRequests: body.minRequests,
            maxErrorRateIncrease: body.maxErrorRateIncrease,
            maxP95IncreaseMs: body.maxP95IncreaseMs,
            confidence: body.confidence,
            maxInconclusiveMs,
          }).filter(([, v]) => v !== undefined),
        );
        return rollouts.begin({
          flag: params.name,
          steps: body.steps,
          pauseMs: ms("pause", body.pause) ?? 0,
          analysis,
          actor: body.actor ?? "api",
        });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/v1/flags/:name/guarded-rollout",
      operationId: "listGuardedRollouts",
      summary: "A flag's guarded rollouts, newest first; a running one with its current look",
      params: flagPath,
      response: { status: 200, description: "The rollouts", schema: rolloutList },
      errors: [DB],
      handle: ({ params }) => rollouts.list(params.name),
    }),
    action("abort", "Stop the flag's guarded rollout; the flag goes back to its last good percentage"),
    action("promote", "Take the current step as passed (a paused rollout): on to the next step"),
  ];
}
