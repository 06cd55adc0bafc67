import { createHash } from "node:crypto";
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";

/** What the router saves after every applied change, to resume it after a restart. */
export interface SavedState {
  /** SHA-256 of the config file the saved services were derived from. */
  configDigest: string;
  savedAt: string;
  services: Record<string, unknown>[];
}

export function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export async function readState(file: string): Promise<SavedState | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return JSON.parse(text) as SavedState;
}

/** Writes atomically (temp file, fsync, rename): a crash leaves the old state or the new, never half. */
export async function writeState(file: string, state: SavedState): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(state, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}
