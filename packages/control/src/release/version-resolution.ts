import { BatonControlError } from "../errors.js";
import { versionOf } from "../release-recovery.js";
import type { ServiceFile } from "../service-file.js";
import type { ReleaseStore } from "../state/release-store.js";
import type { NextVersion } from "./release-steps.js";

export interface VersionRequest {
  version?: string;
  cwd?: string;
  env?: Record<string, string>;
  instances?: string[];
}

/**
 * What a deploy asks for, made concrete: the version's name (a digest of its directory by
 * default), where its files are (where it was last released from by default) and its environment;
 * for static instances, their addresses.
 */
export async function resolveVersion(
  store: ReleaseStore,
  file: ServiceFile,
  req: VersionRequest,
): Promise<NextVersion> {
  if (file.provider === "static") return resolveStatic(store, file, req);
  if (req.cwd) {
    const version = req.version ?? (await versionOf(req.cwd));
    return { version, cwd: req.cwd, env: req.env ?? {} };
  }
  if (!req.version)
    throw new BatonControlError("BATON_BAD_REQUEST", "give the release's directory, a version, or both");
  const known = await store.latestOf(file.service, req.version);
  if (!known?.dir)
    throw new BatonControlError(
      "BATON_UNKNOWN_VERSION",
      `unknown version ${req.version} of ${file.service}: it was never released; give its directory (baton deploy --dir, or the dashboard's Directory field)`,
    );
  return { version: req.version, cwd: known.dir, env: { ...known.env, ...req.env } };
}

async function resolveStatic(
  store: ReleaseStore,
  file: ServiceFile,
  req: VersionRequest,
): Promise<NextVersion> {
  if (!req.version)
    throw new BatonControlError("BATON_BAD_REQUEST", "a release of static instances needs a version name");
  const known = await store.latestOf(file.service, req.version);
  const instances = req.instances?.length
    ? req.instances
    : known?.instances.map((r) => r.address ?? `127.0.0.1:${r.port}`);
  if (!instances?.length)
    throw new BatonControlError(
      "BATON_UNKNOWN_VERSION",
      `unknown version ${req.version} of ${file.service}: give its instances' addresses (--instances host:port,...)`,
    );
  return { version: req.version, cwd: req.cwd ?? "", env: req.env ?? {}, instances };
}
