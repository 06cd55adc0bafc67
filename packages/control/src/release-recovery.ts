import { createHash } from "node:crypto";
import { canonicalJson } from "./audit/canonical-json.js";
import { fileDigests } from "./audit/file-digests.js";
import type { Instance, InstanceRecord, Provider } from "./providers/provider.js";

import { type NextVersion, versionSpec } from "./release/release-steps.js";
import { keepPreviousOf, type ServiceFile } from "./service-file.js";
import type { Release, ReleaseStore } from "./state/release-store.js";

export interface VersionSet {
  version: string;
  instances: Instance[];
}

export interface Recovered {
  serving?: VersionSet;
  /** The previous version the last release keeps warm, with when its warm period ends. */
  warm?: VersionSet & { until: number; source: { dir: string | null; env: Record<string, string> } };
  /** The version the last release kept warm, when a release in flight has replaced it. */
  staleWarm?: VersionSet;
  /** A release a killed control plane left in flight: what to resume it with. */
  inFlight?: { stable: VersionSet; next: NextVersion };
}

const IN_FLIGHT = new Set(["starting", "progressing", "rolling-back"]);

/**
 * Reconstructs, from the stored releases, what runs: the serving version's instances (adopted by
 * pid; any that died while no control plane watched are started again on their port), the warm
 * previous version of a blue-green release, and the release in flight. Reads only; safe to re-run.
 */
export async function findServing(
  store: ReleaseStore,
  provider: Provider,
  file: ServiceFile,
): Promise<Recovered> {
  const recent = await store.history(file.service, 100);
  const adopt = (version: string, records: InstanceRecord[], restart: boolean, exclude?: number) => {
    const source = sourceOf(recent, version, exclude);
    return {
      set: {
        version,
        instances: provider.adopt(
          versionSpec(file, version, { cwd: source.dir ?? ".", env: source.env }, records.length),
          records,
          { restart: restart && source.dir !== null },
        ),
      },
      source,
    };
  };

  const active = recent.find((r) => IN_FLIGHT.has(r.status));
  if (active) {
    const stable = active.previousVersion
      ? adopt(active.previousVersion, active.previousInstances, true, active.id).set
      : { version: "", instances: [] };
    // The version the last release kept warm was replaced by this one: it is retired, unless this
    // release is the rollback that switches to it.
    const lastGood = recent.find((r) => r.id < active.id && r.status === "succeeded");
    const taken = new Set(active.instances.map((i) => i.port));
    const stale =
      lastGood && keepsWarm(lastGood)
        ? adopt(
            lastGood.previousVersion!,
            lastGood.previousInstances.filter((i) => !taken.has(i.port)),
            false,
            lastGood.id,
          ).set
        : undefined;
    return {
      ...(stable.instances.length > 0 ? { serving: stable } : {}),
      inFlight: {
        stable,
        next: {
          version: active.version,
          cwd: active.dir ?? ".",
          env: active.env,
          ...readinessOf(active),
        },
      },
      ...(stale && stale.instances.length > 0 ? { staleWarm: stale } : {}),
    };
  }

  const settled = recent.filter((r) => !IN_FLIGHT.has(r.status));
  const good = settled.findIndex((r) => r.status === "succeeded");
  if (good < 0) return {};
  const lastGood = settled[good]!;
  // A later release that failed or was rolled back knows best which instances serve (a rolling
  // release restores the old version with fresh instances).
  const restored = settled.slice(0, good).find((r) => r.previousInstances.length > 0);
  const serving = adopt(lastGood.version, restored?.previousInstances ?? lastGood.instances, true).set;
  let warm: Recovered["warm"];
  // Every release keeps its predecessor warm for keepPreviousFor; a rollback keeps nothing.
  if (good === 0 && keepsWarm(lastGood)) {
    const prev = adopt(lastGood.previousVersion!, lastGood.previousInstances, false, lastGood.id);
    if (prev.set.instances.length > 0)
      warm = {
        ...prev.set,
        source: prev.source,
        until: Date.parse(lastGood.updatedAt) + keepPreviousOf(file, lastGood.strategy),
      };
  }
  return { serving, ...(warm ? { warm } : {}) };
}

/** Whether a settled release left its predecessor warm (a rollback keeps nothing). */
function keepsWarm(r: Release): boolean {
  return (
    r.previousVersion !== null && !r.rollbackOf && r.strategy !== "rollback" && r.previousInstances.length > 0
  );
}

/**
 * The readiness path a release checks its version on, as recorded (its settings, else its
 * instances' records); nothing when it predates them (baton.yaml's path then).
 */
export function readinessOf(r: Release | undefined): { readinessPath?: string } {
  const path = r?.settings.readiness;
  if (typeof path === "string") return { readinessPath: path };
  const recorded = r?.instances.find((i) => i.readinessPath)?.readinessPath;
  return recorded ? { readinessPath: recorded } : {};
}

/** Where `version` was last released from (its directory and environment). */
function sourceOf(
  recent: Release[],
  version: string,
  exclude?: number,
): { dir: string | null; env: Record<string, string> } {
  const candidates = recent.filter((x) => x.version === version && x.dir !== null && x.id !== exclude);
  const r = candidates.find((x) => x.status === "succeeded") ?? candidates[0];
  return { dir: r?.dir ?? null, env: r?.env ?? {} };
}

/** A version name for a directory: the first 12 hex digits of the SHA-256 over its files. */
export async function versionOf(dir: string): Promise<string> {
  const digests = await fileDigests(dir);
  return createHash("sha256").update(canonicalJson(digests)).digest("hex").slice(0, 12);
}
