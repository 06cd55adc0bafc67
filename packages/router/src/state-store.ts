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
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const s = parsed as Partial<SavedState> | null;
  if (
    typeof s !== "object" ||
    s === null ||
    typeof s.configDigest !== "string" ||
    !Array.isArray(s.services) ||
    !s.services.every((x) => typeof x === "object" && x !== null && !Array.isArray(x))
  ) {
    throw new Error(`${file} is not a router state file (needs configDigest and a services array)`);
  }
  // Its services are validated by the config schema before they are resumed (Router.start).
  return s as SavedState;
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
