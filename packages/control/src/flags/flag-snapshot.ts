import { createHash } from "node:crypto";
import type { DeltaEvent, Flag, Segment } from "@baton/flags";
import type { FlagChange } from "./flag-store.js";

/** The filters of `GET /api/client/features` that Baton applies. */
export interface FeatureQuery {
  project?: string[];
  namePrefix?: string;
}

/**
 * Every flag and segment as the client API serves them, kept in memory and moved on by the store's
 * changes in order: SDK requests never touch the database, and the answer of an unfiltered
 * `GET /api/client/features` (with its ETag) is made once per change, not once per request.
 */
export class FlagSnapshot {
  private flags = new Map<string, Flag>();
  private segmentsById = new Map<number, Segment>();
  /** The id of the last change applied (the streaming API's event id). */
  changeId = 0;
  private full: { body: string; etag: string } | undefined;

  reset(flags: readonly Flag[], segments: readonly Segment[], changeId: number): void {
    this.flags = new Map([...flags].sort((a, b) => a.name.localeCompare(b.name)).map((f) => [f.name, f]));
    this.segmentsById = new Map(segments.map((s) => [s.id, s]));
    this.changeId = changeId;
    this.full = undefined;
  }

  /** Applies one change; returns it as Unleash's delta event. */
  apply(change: FlagChange): DeltaEvent {
    this.changeId = change.id;
    this.full = undefined;
    if (change.kind === "segment") {
      const id = Number(change.name);
      if (change.after) {
        this.segmentsById.set(id, change.after as Segment);
        return { type: "segment-updated", eventId: change.id, segment: change.after as Segment };
      }
      this.segmentsById.delete(id);
      return { type: "segment-removed", eventId: change.id, segmentId: id };
    }
    if (change.after) {
      this.flags.set(change.name, change.after as Flag);
      return { type: "feature-updated", eventId: change.id, feature: change.after as Flag };
    }
    this.flags.delete(change.name);
    const project = (change.before as { project?: unknown } | null)?.project;
    return {
      type: "feature-removed",
      eventId: change.id,
      featureName: change.name,
      project: typeof project === "string" ? project : "default",
    };
  }

  features(): Flag[] {
    return [...this.flags.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  segments(): Segment[] {
    return [...this.segmentsById.values()].sort((a, b) => a.id - b.id);
  }

  /** The hydration event the streaming API starts with. */
  hydration(): DeltaEvent {
    return {
      type: "hydration",
      eventId: this.changeId,
      features: this.features(),
      segments: this.segments(),
    };
  }

  /**
   * `GET /api/client/features` in Unleash's format, and its strong ETag: a digest of the body, so a
   * tag names exactly one answer.
   */
  clientFeatures(query: FeatureQuery = {}): { body: string; etag: string } {
    const filtered = query.project?.length || query.namePrefix;
    if (!filtered && this.full) return this.full;
    const features = this.features().filter(
      (f) =>
        (!query.namePrefix || f.name.startsWith(query.namePrefix)) &&
        (!query.project?.length || query.project.includes(projectOf(f))),
    );
    const body = JSON.stringify({
      version: 2,
      features,
      segments: this.segments(),
      ...(filtered
        ? {
            query: {
              ...(query.project?.length ? { project: query.project } : {}),
              ...(query.namePrefix ? { namePrefix: query.namePrefix } : {}),
            },
          }
        : {}),
      meta: { revisionId: this.changeId },
    });
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 32)}"`;
    const answer = { body, etag };
    if (!filtered) this.full = answer;
    return answer;
  }
}

/** Unleash puts every flag in a project; one without is in `default`. */
function projectOf(flag: Flag): string {
  const project = (flag as { project?: unknown }).project;
  return typeof project === "string" ? project : "default";
}
