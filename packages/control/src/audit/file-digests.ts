import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { BadRequestError } from "../api-input.js";

/** Directories that are not part of what is released. */
const SKIP = new Set(["node_modules", ".git", ".baton"]);
/**
 * What a release directory may hold at most: the files are hashed before the release starts, so
 * a wrong `dir` (`/`, a home directory) must be refused, not read for minutes.
 */
export const MAX_RELEASE_FILES = 50_000;
export const MAX_RELEASE_BYTES = 1024 ** 3;

/**
 * SHA-256 of every file under `dir` (relative path -> hex digest), in a stable order, so the audit
 * log records exactly what was released. Symlinks are not followed. A file that cannot be read,
 * or a directory beyond the limits, is a 400 on `dir` naming it.
 */
export async function fileDigests(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let files = 0;
  let bytes = 0;
  const refuse = (why: string) =>
    new BadRequestError("dir", `the release directory ${dir} cannot be released as it is: ${why}`);
  const walk = async (at: string): Promise<void> => {
    const entries = await readdir(at, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      throw refuse(`${relative(dir, at) || "."} cannot be listed (${err.code ?? err.message})`);
    });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = join(at, e.name);
      if (e.isDirectory()) {
        if (!SKIP.has(e.name)) await walk(path);
      } else if (e.isFile()) {
        const name = relative(dir, path).split(sep).join("/");
        if (++files > MAX_RELEASE_FILES)
          throw refuse(
            `more than ${MAX_RELEASE_FILES} files (node_modules, .git and .baton not counted): is it the right directory?`,
          );
        const digest = await sha256(path).catch((err: NodeJS.ErrnoException) => {
          throw refuse(`${name} cannot be read (${err.code ?? err.message})`);
        });
        bytes += digest.bytes;
        if (bytes > MAX_RELEASE_BYTES)
          throw refuse(`more than ${MAX_RELEASE_BYTES / 1024 ** 3} GiB of files: is it the right directory?`);
        out[name] = digest.hex;
      }
    }
  };
  await walk(dir);
  return out;
}

function sha256(path: string): Promise<{ hex: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    let bytes = 0;
    createReadStream(path)
      .on("data", (c) => {
        bytes += c.length;
        h.update(c);
      })
      .on("error", reject)
      .on("end", () => resolve({ hex: h.digest("hex"), bytes }));
  });
}
