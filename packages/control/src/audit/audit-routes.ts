import { z } from "zod";
import { type ApiRoute, defineRoute } from "../api/api-route.js";
import { apiSchemas } from "../api/api-schemas.js";
import { badRequest, versionName } from "../api-input.js";
import type { AuditLog } from "./audit-log.js";

/** C0 control characters and DEL: they forge lines in logs and terminals. */
const hasControl = (text: string) => [...text].some((c) => c.charCodeAt(0) < 0x20 || c === "\u007f");

const text = (max: number, what: string) =>
  z
    .string()
    .min(1, "must not be empty (leave the parameter out instead)")
    .max(max, `must be at most ${max} characters`)
    .refine((t) => !hasControl(t), "must not contain control characters")
    .describe(what);

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;
/** Whether an ISO_TIME names a real time: Date.parse rolls February 30 over into March. */
function exists(t: string): boolean {
  const [y, m, d] = t.slice(0, 10).split("-").map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  return day.getUTCMonth() === m - 1 && day.getUTCDate() === d && Number.isFinite(Date.parse(t));
}

/** A time as ISO 8601: a date (midnight UTC) or a date and time with its zone (Z or ±hh:mm). */
const isoTime = (what: string) =>
  z
    .string()
    .regex(
      ISO_TIME,
      "must be an ISO 8601 time with its zone, like 2026-01-31T08:00:00Z (or a date, 2026-01-31: midnight UTC)",
    )
    .refine(exists, "is not a time that exists (a day past the month's end, an hour past 23...)")
    .transform((t) => new Date(t).toISOString())
    .describe(what);

export const auditQuery = z
  .strictObject({
    action: text(128, "an action (release.started), or a prefix of one ending in '.' or '*' (release.)")
      .transform((a) =>
        a.endsWith("*") ? { value: a.slice(0, -1), prefix: true } : { value: a, prefix: a.endsWith(".") },
      )
      .optional(),
    actor: text(128, "who acted, exactly").optional(),
    service: text(128, "the service, exactly").optional(),
    version: versionName.describe("the version, exactly").optional(),
    since: isoTime("events at or after this time").optional(),
    until: isoTime("events before this time").optional(),
    q: text(200, "text anywhere in the event (case-insensitive): action, actor, details...").optional(),
    limit: z
      .string()
      .regex(/^\d{1,6}$/, "must be a whole number from 1 to 500")
      .transform(Number)
      .refine((n) => n >= 1 && n <= 500, "must be a whole number from 1 to 500")
      .default(100)
      .describe("events per page: a whole number from 1 to 500 (default 100)"),
    before: z
      .string()
      .regex(/^[1-9]\d{0,15}$/, "must be an event's sequence number (a whole number from 1)")
      .transform(Number)
      .refine(Number.isSafeInteger, "must be an event's sequence number (a whole number from 1)")
      .describe("only events older than this sequence number: the previous page's `next`")
      .optional(),
  })
  .superRefine((q, ctx) => {
    if (q.since !== undefined && q.until !== undefined && q.until <= q.since)
      ctx.addIssue({ code: "custom", path: ["until"], message: "until must be later than since" });
  });

const auditEvent = z.looseObject({
  seq: z.number().int(),
  at: z.string().describe("ISO 8601, UTC"),
  actor: z.string(),
  action: z.string(),
  service: z.string(),
  version: z.string().optional(),
  strategy: z.string().optional(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});

export const auditPage = z
  .looseObject({
    events: z.array(auditEvent).describe("newest first"),
    next: z
      .number()
      .int()
      .nullable()
      .describe("`before` for the next, older page; null: no older event matches"),
    head: z
      .looseObject({ seq: z.number().int(), hash: z.string() })
      .describe("the chain's last event, as its head row records it"),
  })
  .describe("One page of audit events matching the filters, newest first.")
  .register(apiSchemas, { id: "AuditPage" });

/** `GET /v1/audit`: the audit chain, filtered, a page at a time. */
export function auditRoutes(audit: AuditLog): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      path: "/v1/audit",
      operationId: "listAudit",
      summary: "Audit events, newest first, filtered and paged",
      description:
        "Every filter given narrows the list. Paging is by keyset: pass the answer's `next` as " +
        "`before` for older events (stable while new events are appended). `GET /v1/audit/verify` " +
        "checks the chain itself.",
      query: auditQuery,
      response: { status: 200, description: "One page of events", schema: auditPage },
      errors: ["BATON_DATABASE_UNAVAILABLE"],
      handle: ({ query }) => {
        if (query.action?.value === "")
          throw badRequest("action", "action: a prefix needs at least one character before '*'");
        return audit.search({
          limit: query.limit,
          ...(query.action ? { action: query.action } : {}),
          ...(query.actor !== undefined ? { actor: query.actor } : {}),
          ...(query.service !== undefined ? { service: query.service } : {}),
          ...(query.version !== undefined ? { version: query.version } : {}),
          ...(query.since !== undefined ? { since: query.since } : {}),
          ...(query.until !== undefined ? { until: query.until } : {}),
          ...(query.q !== undefined ? { text: query.q } : {}),
          ...(query.before !== undefined ? { before: query.before } : {}),
        });
      },
    }),
  ];
}
