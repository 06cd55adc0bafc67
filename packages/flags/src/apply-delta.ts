import type { Flag, FlagState, Segment } from "./flag-schema.js";

/** One event of Unleash's delta API (`GET /api/client/delta`). */
export type DeltaEvent =
  | { type: "hydration"; eventId: number; features: Flag[]; segments?: Segment[] }
  | { type: "feature-updated"; eventId: number; feature: Flag }
  | { type: "feature-removed"; eventId: number; featureName: string; project?: string }
  | { type: "segment-updated"; eventId: number; segment: Segment }
  | { type: "segment-removed"; eventId: number; segmentId: number };

/**
 * The state after a batch of delta events, in order, as unleash-client applies them; a new state, the
 * old one untouched. Event types we do not know are ignored, as Unleash's SDK does (it only warns).
 */
export function applyDelta(state: FlagState, events: readonly DeltaEvent[]): FlagState {
  const flags = new Map(state.features.map((flag) => [flag.name, flag]));
  const segments = new Map((state.segments ?? []).map((segment) => [segment.id, segment]));
  for (const event of events) {
    switch (event.type) {
      case "hydration":
        flags.clear();
        segments.clear();
        for (const flag of event.features) flags.set(flag.name, flag);
        for (const segment of event.segments ?? []) segments.set(segment.id, segment);
        break;
      case "feature-updated":
        flags.set(event.feature.name, event.feature);
        break;
      case "feature-removed":
        flags.delete(event.featureName);
        break;
      case "segment-updated":
        segments.set(event.segment.id, event.segment);
        break;
      case "segment-removed":
        segments.delete(event.segmentId);
        break;
    }
  }
  return { ...state, features: [...flags.values()], segments: [...segments.values()] };
}
