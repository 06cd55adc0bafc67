import { randomBytes } from "node:crypto";
import { chmod, open, readFile, rename } from "node:fs/promises";
import pg from "pg";

/**
 * The superuser password of data directories made before Baton generated one. Only ever tried to
 * connect once, to replace it: a server still using it gets the generated one (ALTER ROLE).
 */
export const LEGACY_PASSWORD = "baton";

/**
 * Where the embedded server's superuser password is kept: beside the data directory (so in
 * `.baton/`), mode 0600, readable by the user running Baton only. The server listens on loopback
 * TCP, where any local user could otherwise log in and rewrite the audit log.
 */
export function passwordFile(databaseDir: string): string {
  return `${databaseDir}.password`;
}

/** The password kept for this data directory, or a new random one, saved (0600) before it is used. */
export async function loadOrCreatePassword(databaseDir: string): Promise<string> {
  const file = passwordFile(databaseDir);
  const existing = (await readFile(file, "utf8").catch(() => "")).trim();
  if (existing) {
    await chmod(file, 0o600); // tightened if someone loosened it
    return existing;
  }
  const password = randomBytes(24).toString("hex");
  // Written whole under a fresh name (O_EXCL: never through a planted link), then renamed.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fh = await open(tmp, "wx", 0o600);
  try {
    await fh.writeFile(`${password}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  return password;
}

/**
 * Connects as the superuser with `password`. A data directory made before passwords were generated
 * still has the fixed legacy one: it is connected to with that once and switched to `password`,
 * so that the fixed one stops working.
 */
export async function connectAdmin(
  port: number,
  password: string,
  log: (line: string) => void,
): Promise<pg.Client> {
  const client = (pw: string) =>
    new pg.Client({ host: "127.0.0.1", port, user: "postgres", password: pw, database: "postgres" });
  const admin = client(password);
  try {
    await admin.connect();
    return admin;
  } catch (err) {
    await admin.end().catch(() => {});
    // 28P01: invalid_password. Anything else (not up, refused) is not ours to work around.
    if ((err as { code?: string }).code !== "28P01") throw err;
  }
  const legacy = client(LEGACY_PASSWORD);
  try {
    await legacy.connect();
  } catch (err) {
    await legacy.end().catch(() => {});
    throw new Error(
      "embedded PostgreSQL: the password kept beside the data directory is refused (and so is the old " +
        `fixed one): ${(err as Error).message}. Was the .password file replaced? Restore it, or set DATABASE_URL`,
    );
  }
  // ALTER ROLE takes no bind parameters; a quoted literal (standard_conforming_strings is on).
  await legacy.query(`ALTER ROLE postgres PASSWORD '${password.replaceAll("'", "''")}'`);
  log("embedded PostgreSQL: replaced the old fixed superuser password with a generated one");
  return legacy;
}
