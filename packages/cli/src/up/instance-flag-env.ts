import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { FlagService } from "@baton/control";

/** Where `baton up` keeps the client token its instances read flags with (mode 0600). */
export const INSTANCE_TOKEN_FILE = "flags-client.token";

/**
 * The flag client API's address and a client token, for the service's instances: `baton up` puts
 * them in its own environment (which instances inherit) as `BATON_FLAGS_URL` and
 * `BATON_FLAGS_TOKEN`, with `BATON_FLAGS_BACKUP` for the SDK's backup file, so that a service reads flags and reports outcomes with no set-up. The
 * token is made once per data directory and kept in clear only in its 0600 file; values already
 * in the environment (or given with `deploy --env`) win.
 */
export async function provideInstanceFlagEnv(
  flags: FlagService,
  dataDir: string,
  apiUrl: string,
): Promise<void> {
  const file = join(dataDir, INSTANCE_TOKEN_FILE);
  let token = (await readFile(file, "utf8").catch(() => "")).trim();
  if (!token || flags.tokens.check(token) === undefined) {
    // The name only has to be new: a lost file leaves its old token behind, listed and unused.
    const made = await flags.tokens.create(
      `baton-up-instances-${randomBytes(3).toString("hex")}`,
      "baton up",
    );
    token = made.token;
    await writeFile(`${file}.tmp`, `${token}\n`, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }
  process.env.BATON_FLAGS_URL ??= `${apiUrl}/api`;
  process.env.BATON_FLAGS_TOKEN ??= token;
  // Outside the release's directory: a file written there would change the version's digest.
  process.env.BATON_FLAGS_BACKUP ??= join(dataDir, "flags-backup.json");
}
