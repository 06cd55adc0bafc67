import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AuditLog } from "../audit/audit-log.js";
import { startEmbeddedDatabase } from "./embedded-database.js";
import { pgClient } from "./sql-client.js";

describe("embedded database", () => {
  it("runs a real PostgreSQL with no server installed, and keeps its data across restarts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "baton-pg-"));
    await chmod(dir, 0o755); // run as root, the server runs as `postgres`, which must reach its data
    try {
      let db = await startEmbeddedDatabase(join(dir, "pg"));
      let client = pgClient(db.url);
      const version = (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]!
        .server_version;
      expect(Number(version.split(".")[0])).toBeGreaterThanOrEqual(18);
      const audit = new AuditLog(client);
      await audit.migrate();
      await audit.append({ actor: "me", action: "release.started", service: "s" });
      await client.close();
      await db.stop();

      db = await startEmbeddedDatabase(join(dir, "pg"));
      client = pgClient(db.url);
      expect(await new AuditLog(client).verify()).toEqual({ rows: 1, problems: [] });
      await client.close();
      await db.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
