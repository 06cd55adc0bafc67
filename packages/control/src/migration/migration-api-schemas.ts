import { z } from "zod";
import { apiSchemas } from "../api/api-schemas.js";
import { actorBody } from "../api-input.js";

/** What the migration routes answer, for the OpenAPI document (loose: the view may grow). */

const summary = {
  id: z.number().int(),
  name: z.string().describe("the migration file's name without its extension, e.g. 02_add_euros"),
  status: z.enum(["active", "completed", "rolled_back"]),
  versionSchema: z.string().describe("the schema of views presenting the migration's version"),
  previousVersionSchema: z
    .string()
    .nullable()
    .describe("the version schema before it (null: the tables themselves)"),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
};

export const migrationSummary = z.looseObject(summary).register(apiSchemas, { id: "MigrationSummary" });

export const backfillProgress = z
  .looseObject({
    operation: z.number().int().describe("the operation it belongs to, counted from 1"),
    migration: z.string(),
    table: z.string(),
    column: z.string().describe("the column it fills (the backfill's cursor name)"),
    done: z.number().int(),
    total: z.number().int().nullable().describe("the table's estimated rows; null when never analysed"),
    percent: z.number().nullable(),
    rowsPerSecond: z.number(),
    etaSeconds: z.number().nullable().describe("seconds left at the current rate, an estimate"),
    finished: z.boolean(),
    running: z.boolean().describe("saved within the last 10 s and not finished: a process runs it now"),
    startedAt: z.string(),
    at: z.string().describe("when this progress was saved"),
  })
  .describe("One backfill's progress, as its migrator saved it (after every batch).")
  .register(apiSchemas, { id: "BackfillProgress" });

const action = z.looseObject({
  allowed: z.boolean(),
  code: z.string().optional().describe("refused: the error code the action would answer with"),
  reason: z.string().optional().describe("refused: why, in words"),
});

export const migrationView = z
  .looseObject({
    service: z.string(),
    configured: z.boolean(),
    reason: z.string().nullable().describe("not configured: why, and how to configure it"),
    settings: z
      .looseObject({ file: z.string(), schema: z.string(), databaseEnv: z.string() })
      .nullable()
      .describe("baton.yaml's migration section"),
    database: z
      .looseObject({ url: z.string().describe("without its password"), from: z.string() })
      .nullable(),
    active: z
      .looseObject({
        ...summary,
        phase: z.enum(["starting", "started"]),
        release: z.looseObject({ id: z.number().int(), version: z.string() }).nullable(),
        operations: z.array(
          z.looseObject({
            index: z.number().int(),
            op: z.string(),
            summary: z.string().describe("the operation and what it acts on, in one line"),
            started: z.boolean(),
          }),
        ),
        backfills: z.array(backfillProgress),
      })
      .nullable()
      .describe("the migration in progress"),
    versionSchemas: z.array(
      z.looseObject({
        role: z.enum(["old", "new", "current"]),
        schema: z.string().nullable(),
        searchPath: z.string().describe("the search_path applications of that version use"),
      }),
    ),
    history: z.array(migrationSummary).describe("newest first, at most 20"),
    actions: z.looseObject({ complete: action, rollback: action }),
    at: z.string(),
  })
  .describe("The service's database migration: settings, the one in progress with its backfills, history.")
  .register(apiSchemas, { id: "Migration" });

export const migrationActionResult = z
  .looseObject({
    migration: migrationSummary,
    warnings: z.array(z.string()).describe("what a rollback could not undo (sql operations without down)"),
  })
  .register(apiSchemas, { id: "MigrationActionResult" });

export const migrationStartBody = z
  .strictObject(
    {
      file: z
        .string({ error: "must be a string" })
        .min(1, "must not be empty")
        .max(4096, "must be at most 4096 characters")
        .refine((f) => !f.includes("\u0000"), "must not contain a NUL byte")
        .describe(
          "the migration file (pgroll format, YAML or JSON): an absolute path on the control plane's machine",
        ),
      actor: actorBody.shape.actor,
    },
    { error: "the body must be a JSON object" },
  )
  .register(apiSchemas, { id: "MigrationStartRequest" });

export const migrationStarted = z
  .looseObject({ migration: z.string(), schema: z.string() })
  .describe("Checked and starting in the background: follow it with GET /v1/migration.")
  .register(apiSchemas, { id: "MigrationStarted" });
