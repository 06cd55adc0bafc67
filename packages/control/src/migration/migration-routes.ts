import { type ApiRoute, defineRoute } from "../api/api-route.js";
import { actorBody } from "../api-input.js";
import {
  migrationActionResult,
  migrationStartBody,
  migrationStarted,
  migrationView,
} from "./migration-api-schemas.js";
import type { MigrationMonitor } from "./migration-monitor.js";

const DB = ["BATON_DATABASE_UNAVAILABLE", "BATON_MIGRATION_DATABASE_UNAVAILABLE"] as const;
const REFUSED = [
  "BATON_MIGRATION_NOT_CONFIGURED",
  "BATON_MIGRATION_NO_DATABASE",
  "BATON_NO_ACTIVE_MIGRATION",
  "BATON_MIGRATION_RELEASE_IN_FLIGHT",
  "BATON_MIGRATION_STARTING",
] as const;

/** The migration routes of the admin API: what the Migrations page shows, and its two actions. */
export function migrationRoutes(monitor: MigrationMonitor): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      path: "/v1/migration",
      operationId: "getMigration",
      summary: "The service's database migration",
      description:
        "Whether baton.yaml configures one (and why not, in words), the migration in progress with " +
        "its operations and each backfill's progress (rows done of the estimate, rows/s, time left), " +
        "the version schemas with their search_path, the history, and whether complete and " +
        "rollback would be refused now (and why).",
      response: { status: 200, description: "The migration's state", schema: migrationView },
      errors: DB,
      handle: () => monitor.view(),
    }),
    defineRoute({
      method: "POST",
      path: "/v1/migration/start",
      operationId: "startMigration",
      summary: "Start a migration file by hand",
      description:
        "What `baton migrate start` does, on the application's database baton.yaml's migration " +
        "section names: the file (an absolute path on the control plane's machine) is read and " +
        "checked, then started in the background (follow it with GET /v1/migration); audited as " +
        "migration.started, or migration.start-failed with the engine's reason. Refused (409, " +
        "nothing changed) while a release is in flight, while another migration is in progress, and " +
        "when one of the same name was completed.",
      body: migrationStartBody,
      response: { status: 202, description: "Checked, and starting", schema: migrationStarted },
      errors: [
        "BATON_MIGRATION_NOT_CONFIGURED",
        "BATON_MIGRATION_NO_DATABASE",
        "BATON_MIGRATION_RELEASE_IN_FLIGHT",
        "BATON_MIGRATION_IN_PROGRESS",
        "BATON_MIGRATION_APPLIED",
        ...DB,
      ],
      handle: ({ body }) => monitor.start(body.file, body.actor ?? "api"),
    }),
    defineRoute({
      method: "POST",
      path: "/v1/migration/complete",
      operationId: "completeMigration",
      summary: "Complete the migration in progress",
      description:
        "Removes what only the old version needed (its version schema, old columns); audited as " +
        "migration.completed. Refused (409, nothing changed) while a release is in flight (it " +
        "completes with the release), while the migration is still starting, and while the previous " +
        "version is kept warm.",
      body: actorBody,
      response: { status: 200, description: "The migration, completed", schema: migrationActionResult },
      errors: [...REFUSED, "BATON_MIGRATION_STILL_NEEDED", "BATON_MIGRATION_FAILED", ...DB],
      handle: ({ body }) => monitor.complete(body.actor ?? "api"),
    }),
    defineRoute({
      method: "POST",
      path: "/v1/migration/rollback",
      operationId: "rollbackMigration",
      summary: "Roll the migration in progress back",
      description:
        "Returns the schema to exactly as before the migration started; audited as " +
        "migration.rolled-back. Refused (409, nothing changed) while a release is in flight (abort " +
        "it instead) and while the serving version was released with this migration (roll back the " +
        "release instead).",
      body: actorBody,
      response: { status: 200, description: "The migration, rolled back", schema: migrationActionResult },
      errors: [...REFUSED, "BATON_MIGRATION_SERVES", "BATON_MIGRATION_FAILED", ...DB],
      handle: ({ body }) => monitor.rollback(body.actor ?? "api"),
    }),
  ];
}
