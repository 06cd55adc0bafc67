import { createHash } from "node:crypto";
import type { DeltaEvent, Flag, Segment } from "@baton/flags";
import type { FlagChange } from "./flag-store.js";

/** The filters of `GET /api/client/features` that Baton applies. */
export interface FeatureQuery {
  project?: string[];
  namePrefix?: string;
}

/** Answers of filtered `GET /api/client/features` kept per state: a few queries are asked over and over. */
const MAX_CACHED_ANSWERS = 32;

/**
 * Every flag and segment as the client API serves them, kept in memory and moved on by the store's
 * changes in order: SDK requests never touch the database, and each answer of
 * `GET /api/client/features` (with its ETag) is made once per change and query, not once per
 * request, so that SDKs polling a large state cost no serialising.
 */
export class FlagSnapshot {
  private flags = new Map<string, Flag>();
  private segmentsById = new Map<number, Segment>();
  /** The id of the last change applied (the streaming API's event id). */
  changeId = 0;
  /** One more at every reset or change: what caches of answers made from this state are keyed by. */
  revision = 0;
  private sorted: Flag[] | undefined;
  private answers = new Map<string, { body: Buffer; etag: string }>();

  reset(flags: readonly Flag[], segments: readonly Segment[], changeId: number): void {
    this.flags = new Map([...flags].sort((a, b) => a.name.localeCompare(b.name)).map((f) => [f.name, f]));
    this.segmentsById = new Map(segments.map((s) => [s.id, s]));
    this.changeId = changeId;
    this.changed();
  }

  private changed(): void {
    this.revision++;
    this.sorted = undefined;
    this.answers.clear();
  }

  /** Applies one change; returns it as Unleash's delta event. */
  apply(change: FlagChange): DeltaEvent {
    this.changeId = change.id;
    this.changed();
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

  /** Whether a flag of that name exists. */
  has(name: string): boolean {
    return this.flags.has(name);
  }

  features(): Flag[] {
    this.sorted ??= [...this.flags.values()].sort((a, b) => a.name.localeCompare(b.name));
    return [...this.sorted];
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
  clientFeatures(query: FeatureQuery = {}): { body: Buffer; etag: string } {
    const filtered = query.project?.length || query.namePrefix;
    const key = filtered ? JSON.stringify([query.namePrefix ?? "", query.project ?? []]) : "";
    const cached = this.answers.get(key);
    if (cached) return cached;
    const features = this.features().filter(
      (f) =>
        (!query.namePrefix || f.name.startsWith(query.namePrefix)) &&
        (!query.project?.length || query.project.includes(projectOf(f))),
    );
    const text = JSON.stringify({
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
    // One buffer, written as it is to every client that asks: a poller that reads slowly holds a
    // reference to it, not a copy of its own of the whole state.
    const body = Buffer.from(text);
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 32)}"`;
    const answer = { body, etag };
    // The oldest answer makes room (the unfiltered one is asked most, and made again when asked).
    if (this.answers.size >= MAX_CACHED_ANSWERS) this.answers.delete(this.answers.keys().next().value!);
    this.answers.set(key, answer);
    return answer;
  }
}

/** Unleash puts every flag in a project; one without is in `default`. */
function projectOf(flag: Flag): string {
  const project = (flag as { project?: unknown }).project;
  return typeof project === "string" ? project : "default";
}
