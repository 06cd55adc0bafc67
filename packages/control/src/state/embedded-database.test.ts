import { existsSync } from "node:fs";
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { AuditLog } from "../audit/audit-log.js";
import { binariesCopyPath } from "./embedded-binaries.js";
import { startEmbeddedDatabase } from "./embedded-database.js";
import { LEGACY_PASSWORD, passwordFile } from "./embedded-password.js";
import { pgClient } from "./sql-client.js";

const asRoot = process.getuid?.() === 0;

/** Connects as the superuser with `password`; resolves to the error code, or "ok". */
async function tryPassword(url: string, password: string): Promise<string> {
  const port = Number(new URL(url).port);
  const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
  try {
    await c.connect();
    return "ok";
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await c.end().catch(() => {});
  }
}

// Each test has its own data directory, binaries copy and port: they run at once.
describe.concurrent("embedded database", () => {
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

  it("uses a random password kept 0600 beside the data, and switches an old data dir off the fixed one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "baton-pg-pw-"));
    await chmod(dir, 0o755);
    const data = join(dir, "pg");
    try {
      let db = await startEmbeddedDatabase(data);
      const file = passwordFile(data);
      const password = (await readFile(file, "utf8")).trim();
      expect(password).toMatch(/^[0-9a-f]{48}$/);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(new URL(db.url).password).toBe(password);
      // Any local user can reach the port: the old fixed password must not let them in.
      expect(await tryPassword(db.url, LEGACY_PASSWORD)).toBe("28P01");
      expect(await tryPassword(db.url, password)).toBe("ok");

      // A data dir made before this change: the fixed password, no password file.
      const c = pgClient(db.url);
      await c.query(`ALTER ROLE postgres PASSWORD '${LEGACY_PASSWORD}'`);
      await c.close();
      await db.stop();
      await rm(file);

      db = await startEmbeddedDatabase(data);
      const fresh = (await readFile(file, "utf8")).trim();
      expect(fresh).not.toBe(password);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(await tryPassword(db.url, LEGACY_PASSWORD)).toBe("28P01");
      const again = pgClient(db.url);
      expect((await again.query<{ one: number }>("SELECT 1 AS one")).rows[0]!.one).toBe(1);
      await again.close();
      await db.stop();

      // Later starts reuse the kept password.
      db = await startEmbeddedDatabase(data);
      expect(new URL(db.url).password).toBe(fresh);
      await db.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it.runIf(asRoot)(
    "as root, never runs binaries from a copy someone else could have written",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "baton-pg-bin-"));
      await chmod(dir, 0o755);
      const data = join(dir, "pg");
      const copy = binariesCopyPath(data);
      const marker = join(dir, "hostile-ran");
      // Planted before the first start: owned by another user, with a `postgres` that leaves a mark.
      const plant = async (owner: number, mode: number) => {
        await mkdir(join(copy, "bin"), { recursive: true });
        for (const name of ["postgres", "initdb"])
          await writeFile(join(copy, "bin", name), `#!/bin/sh\ntouch ${marker}\nexit 1\n`, { mode: 0o755 });
        await chown(copy, owner, owner);
        await chmod(copy, mode);
      };
      try {
        await plant(65534, 0o755);
        let db = await startEmbeddedDatabase(data);
        expect(existsSync(marker)).toBe(false);
        expect((await stat(copy)).uid).toBe(0);
        expect((await stat(copy)).mode & 0o777).toBe(0o755);
        // The server's executable is the checked copy's.
        const pid = Number((await readFile(join(data, "postmaster.pid"), "utf8")).split("\n")[0]);
        expect(await readlink(`/proc/${pid}/exe`)).toBe(join(copy, "bin", "postgres"));
        await db.stop();

        // Our own copy made writable by anyone: not used either; moved aside and made again.
        await rm(copy, { recursive: true });
        await plant(0, 0o777);
        db = await startEmbeddedDatabase(data);
        expect(existsSync(marker)).toBe(false);
        expect((await stat(copy)).mode & 0o777).toBe(0o755);
        const aside = (await readdir(dirname(copy))).filter((n) => n.includes(".untrusted-"));
        expect(aside).toHaveLength(2);
        await db.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );

  it.runIf(asRoot)(
    "as root, says which directory the postgres user cannot enter, before anything starts",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "baton-pg-closed-")); // 0700, as mktemp -d makes it
      try {
        await expect(startEmbeddedDatabase(join(dir, "project", ".baton", "pg"))).rejects.toThrow(
          `the postgres user, which cannot enter ${dir} (mode 0700); allow it with \`chmod o+x ${dir}\``,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
