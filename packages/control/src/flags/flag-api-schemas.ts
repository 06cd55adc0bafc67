import { z } from "zod";
import { apiSchemas } from "../api/api-schemas.js";
import { actorBody } from "../api-input.js";
import { FLAG_NAME, FLAG_NAME_RULE, RESERVED_FLAG_NAMES } from "./check-flag.js";
import { DEFAULT_STALE_AFTER, durationMs } from "./stale-flags.js";

/**
 * What the flag routes of the admin API accept and answer, for parsing and for the OpenAPI
 * document. Flag definitions themselves are checked by @baton/flags's schema (Unleash's client
 * format), which names the field at fault; the schemas here only describe them.
 */

const actor = actorBody.shape.actor;
const version = z
  .number({ error: "must be a whole number" })
  .int("must be a whole number")
  .min(0, "must be 0 or more")
  .describe(
    "the flag's version the change is based on (0: the flag must not exist yet); a flag at another version is a 409 and nothing changes. The If-Match header says the same.",
  );

/** C0 control characters and DEL: they forge lines in logs and terminals. */
const hasControl = (text: string) => [...text].some((c) => c.charCodeAt(0) < 0x20 || c === "\u007f");
const reason = z
  .string({ error: "must be a string" })
  .min(1, "must not be empty")
  .max(1000, "must be at most 1000 characters")
  .refine((r) => !hasControl(r), "must not contain control characters")
  .describe("why, kept with the change in the flag's history and the audit log");

/** Paths of the API under /v1/flags/ beside those check-flag.ts reserves. */
const ROUTE_NAMES = new Set(["schedule", "stale"]);

export const flagPath = z.strictObject({
  name: z
    .string()
    .regex(FLAG_NAME, FLAG_NAME_RULE)
    .refine((n) => !RESERVED_FLAG_NAMES.has(n) && !ROUTE_NAMES.has(n), "is reserved (a path of the API)")
    .describe("the flag's name"),
});

const at = z
  .string({ error: "must be a string: an ISO 8601 date-time with a zone, e.g. 2026-12-01T09:00Z" })
  .max(64, "must be an ISO 8601 date-time with a zone, e.g. 2026-12-01T09:00Z")
  .describe(
    "schedule the change instead of making it now: an ISO 8601 date-time with a zone (e.g. 2026-12-01T09:00Z or 2026-12-01T10:00+01:00), in the future and at most a year ahead. The answer is then the scheduled change.",
  );

const loose = z.looseObject({});
export const flagWriteBody = z
  .looseObject({
    name: z.string().optional().describe("the path's name (may be left out)"),
    enabled: z.boolean().optional(),
    strategies: z.array(loose).optional(),
    variants: z.array(loose).optional(),
    dependencies: z.array(loose).optional(),
    impressionData: z.boolean().optional(),
    version: version.optional(),
    actor: actor.optional(),
    reason: reason.optional(),
  })
  .describe(
    "A flag in Unleash's client feature format (enabled, strategies with parameters, constraints, segments and variants; variants; dependencies), plus `version`, `actor` and `reason`, which are not part of the flag.",
  )
  .register(apiSchemas, { id: "FlagWriteRequest" });

export const flagActionBody = z
  .strictObject(
    { version: version.optional(), actor: actor.optional(), reason: reason.optional() },
    { error: "the body must be a JSON object" },
  )
  .register(apiSchemas, { id: "FlagActionRequest" });

export const flagSwitchBody = z
  .strictObject(
    { version: version.optional(), actor: actor.optional(), reason: reason.optional(), at: at.optional() },
    { error: "the body must be a JSON object" },
  )
  .register(apiSchemas, { id: "FlagSwitchRequest" });

export const flagRolloutBody = z
  .strictObject(
    {
      percent: z
        .number({ error: "must be a number from 0 to 100" })
        .min(0, "must be a number from 0 to 100")
        .max(100, "must be a number from 0 to 100")
        .describe("the rollout percentage of the flag's first flexibleRollout strategy"),
      version: version.optional(),
      actor: actor.optional(),
      reason: reason.optional(),
      at: at.optional(),
    },
    { error: "the body must be a JSON object" },
  )
  .register(apiSchemas, { id: "FlagRolloutRequest" });

export const scheduleCancelBody = z
  .strictObject({ actor: actor.optional() }, { error: "the body must be a JSON object" })
  .register(apiSchemas, { id: "ScheduleCancelRequest" });

const SCHEDULE_ID = `must be a scheduled change's id: a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`;
export const schedulePath = z.strictObject({
  id: z
    .string()
    .regex(/^[1-9]\d{0,15}$/, SCHEDULE_ID)
    .transform(Number)
    .refine(Number.isSafeInteger, SCHEDULE_ID)
    .describe("the scheduled change's id"),
});

const DURATION = "must be a duration such as 30d, 12h or 90m (units d, h, m, s; at most 3650d)";
export const staleQuery = z.strictObject({
  olderThan: z
    .string()
    .default(DEFAULT_STALE_AFTER)
    .transform((text, ctx) => {
      const ms = durationMs(text);
      if (ms === undefined)
        ctx.addIssue({ code: "custom", message: `${DURATION}; got ${JSON.stringify(text)}` });
      return { text, ms: ms ?? 0 };
    })
    .describe(`unchanged for at least this long, e.g. 30d, 12h or 90m (default ${DEFAULT_STALE_AFTER})`),
});

export const flagApplyBody = z
  .strictObject(
    {
      flags: z
        .array(z.unknown())
        .max(10_000, "at most 10000 flags")
        .optional()
        .describe("flags in Unleash's client format (or `file`)"),
      segments: z.array(z.unknown()).max(10_000, "at most 10000 segments").optional(),
      file: z
        .string({ error: "must be a string: the text of a YAML or JSON flag file" })
        .max(1024 * 1024, "must be at most 1 MiB")
        .optional()
        .describe(
          "instead of flags and segments: a flag file's text, YAML or JSON, in any form `baton flags apply` reads (a list of flags, {features, segments} as `baton flags export` writes it, or Unleash's export)",
        ),
      actor: actor.optional(),
    },
    { error: "the body must be a JSON object" },
  )
  .superRefine((body, ctx) => {
    if (body.file !== undefined && (body.flags !== undefined || body.segments !== undefined))
      ctx.addIssue({
        code: "custom",
        path: ["file"],
        message: "give either file or flags and segments, not both",
      });
    else if (body.file === undefined && body.flags === undefined)
      ctx.addIssue({ code: "custom", path: ["flags"], message: "is required (or give file)" });
  })
  .register(apiSchemas, { id: "FlagApplyRequest" });

export const flagApplyQuery = z.strictObject({
  dryRun: z
    .enum(["0", "1"], { error: "must be 1 (only say what would change) or 0" })
    .default("0")
    .describe(
      "1: check and compare only; nothing is written, and the answer lists each change with its before and after",
    ),
});

const SEGMENT_ID = "must be a segment's id: a whole number from 0 to 2147483647";
export const segmentPath = z.strictObject({
  id: z
    .string()
    .regex(/^(0|[1-9]\d{0,9})$/, SEGMENT_ID)
    .transform(Number)
    .refine((n) => n <= 2_147_483_647, SEGMENT_ID)
    .describe("the segment's id"),
});

export const segmentWriteBody = z
  .looseObject({
    id: z.number().optional().describe("the path's id (may be left out)"),
    name: z.string().optional(),
    constraints: z.array(loose).optional(),
    actor: actor.optional(),
  })
  .describe("A segment in Unleash's client format: constraints (all must hold) and a name, plus `actor`")
  .register(apiSchemas, { id: "SegmentWriteRequest" });

export const segmentDeleteBody = z
  .strictObject(
    { actor: actor.optional(), reason: reason.optional() },
    { error: "the body must be a JSON object" },
  )
  .register(apiSchemas, { id: "SegmentDeleteRequest" });

const segmentDefinition = z.looseObject({
  id: z.number().int(),
  name: z.string().optional(),
  constraints: z.array(loose),
});
export const segment = segmentDefinition.register(apiSchemas, { id: "Segment" });
export const segmentList = z.array(segmentDefinition).register(apiSchemas, { id: "SegmentList" });
export const segmentDeleted = z
  .looseObject({ deleted: z.literal(true), id: z.number().int() })
  .register(apiSchemas, { id: "SegmentDeleted" });

export const clientTokenBody = z
  .strictObject(
    {
      name: z
        .string({ error: "must be a string" })
        .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 letters, digits, '.', '_' or '-'")
        .describe("what the token is for, e.g. the application's name"),
      actor: actor.optional(),
    },
    { error: "the body must be a JSON object" },
  )
  .register(apiSchemas, { id: "ClientTokenRequest" });

export const clientTokenPath = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 letters, digits, '.', '_' or '-'")
    .describe("the token's name"),
});

export const clientTokenRevokeBody = z
  .strictObject({ actor: actor.optional() }, { error: "the body must be a JSON object" })
  .register(apiSchemas, { id: "ClientTokenRevokeRequest" });

export const clientTokenRevoked = z
  .strictObject({ name: z.string(), revoked: z.literal(true) })
  .register(apiSchemas, { id: "ClientTokenRevoked" });

export const historyQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,4}$/, "must be a whole number from 1 to 1000")
    .transform(Number)
    .refine((n) => n >= 1 && n <= 1000, "must be a whole number from 1 to 1000")
    .default(100)
    .describe("a whole number from 1 to 1000 (default 100)"),
});

const flagDefinition = z.looseObject({
  name: z.string(),
  enabled: z.boolean(),
  strategies: z.array(loose),
});

export const flagRecord = z
  .looseObject({
    name: z.string(),
    version: z.number().int().describe("1 when created, one more at every change"),
    flag: flagDefinition.describe("the definition, in Unleash's client feature format"),
    createdAt: z.string(),
    updatedAt: z.string(),
    updatedBy: z.string(),
  })
  .register(apiSchemas, { id: "FlagRecord" });

const counts = z.looseObject({
  yes: z.number().int(),
  no: z.number().int(),
  variants: z.record(z.string(), z.number().int()),
  apps: z.array(z.string()),
  lastReportAt: z.string(),
});

export const flagDetail = flagRecord
  .extend({
    metrics: counts
      .nullable()
      .describe("evaluations SDKs reported since the control plane started (null: none yet)"),
  })
  .register(apiSchemas, { id: "FlagDetail" });

export const flagList = z.array(flagRecord).register(apiSchemas, { id: "FlagList" });

export const flagChange = z
  .looseObject({
    id: z.number().int().describe("the change's id (the streaming API's event id)"),
    at: z.string(),
    actor: z.string(),
    action: z.enum(["flag.created", "flag.changed", "flag.deleted", "segment.changed", "segment.deleted"]),
    name: z.string(),
    version: z.number().int().describe("the version after the change (0: deleted)"),
    before: loose.nullable(),
    after: loose.nullable(),
    reason: z.string().nullable().describe("why, as the one who changed it said (null: not said)"),
  })
  .register(apiSchemas, { id: "FlagChange" });

export const flagHistory = z.array(flagChange).register(apiSchemas, { id: "FlagHistory" });

export const scheduledChange = z
  .looseObject({
    id: z.number().int(),
    flag: z.string(),
    action: z.enum(["enable", "disable", "rollout"]),
    percent: z.number().nullable().describe("rollout: the percentage to set; otherwise null"),
    at: z.string().describe("when it is to happen"),
    reason: z.string().nullable(),
    createdBy: z.string(),
    createdAt: z.string(),
    state: z.enum(["pending", "done", "failed", "cancelled"]),
    doneAt: z.string().nullable().describe("when it was applied, failed or was cancelled"),
    result: z
      .string()
      .nullable()
      .describe("what happened: applied (on time, or how late), why it failed, or who cancelled it"),
  })
  .register(apiSchemas, { id: "ScheduledFlagChange" });

export const flagSchedule = z
  .looseObject({
    pending: z.array(scheduledChange).describe("soonest first"),
    recent: z.array(scheduledChange).describe("the last 50 applied, failed or cancelled, newest first"),
  })
  .register(apiSchemas, { id: "FlagSchedule" });

export const staleFlagList = z
  .looseObject({
    olderThan: z.string().describe("the threshold, as asked"),
    flags: z.array(
      z.looseObject({
        name: z.string(),
        state: z.enum(["fullyOn", "fullyOff"]).describe("on for everyone, or off for everyone"),
        since: z.string().describe("the flag's last change"),
        daysUnchanged: z.number().int(),
        hint: z.string(),
      }),
    ),
  })
  .register(apiSchemas, { id: "StaleFlags" });

export const flagDeleted = z
  .looseObject({ deleted: z.literal(true), name: z.string() })
  .register(apiSchemas, { id: "FlagDeleted" });

export const flagApplyResult = z
  .looseObject({
    created: z.array(z.string()),
    changed: z.array(z.string()),
    unchanged: z.array(z.string()),
    segments: z.array(z.number().int()).describe("the ids of the segments created or changed"),
    dryRun: z.literal(true).optional().describe("present with ?dryRun=1: nothing was written"),
    changes: z
      .array(
        z.looseObject({
          kind: z.enum(["flag", "segment"]),
          name: z.string().describe("the flag's name, or the segment's id"),
          before: loose.nullable().describe("as stored (null: it would be created)"),
          after: loose,
        }),
      )
      .optional()
      .describe("with ?dryRun=1: each flag and segment that would be created or changed"),
  })
  .register(apiSchemas, { id: "FlagApplyResult" });

export const clientTokenCreated = z
  .looseObject({
    name: z.string(),
    token: z.string().describe("shown this once: only its SHA-256 is kept"),
    createdAt: z.string(),
  })
  .register(apiSchemas, { id: "ClientTokenCreated" });

export const clientTokenList = z
  .array(
    z.looseObject({
      name: z.string(),
      createdAt: z.string(),
      createdBy: z.string(),
      lastUsedAt: z.string().nullable(),
    }),
  )
  .register(apiSchemas, { id: "ClientTokenList" });

export const flagExport = z
  .looseObject({ version: z.literal(2), features: z.array(flagDefinition), segments: z.array(loose) })
  .register(apiSchemas, { id: "FlagExport" });
