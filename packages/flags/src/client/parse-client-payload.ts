import { applyDelta, type DeltaEvent } from "../apply-delta.js";
import type { FlagState } from "../flag-schema.js";
import { parseFlag, parseFlagState } from "../parse-flags.js";

const EMPTY: FlagState = { features: [], segments: [] };

/**
 * The state a payload of Unleash's client API leads to: a full state (`GET /api/client/features`,
 * `{features, segments}`) replaces the current one; a batch of delta events (`{events: [...]}`, what
 * the streaming endpoint sends in `unleash-connected` and `unleash-updated`) is applied to it. The
 * result is validated as a whole, so a payload that is not JSON, is cut short or would leave a bad
 * state (a flag without strategies, a strategy naming a missing segment) throws and changes nothing.
 */
export function parseClientPayload(text: string, current: FlagState | undefined): FlagState {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    throw new Error(`flag payload is not JSON: ${(error as Error).message}`);
  }
  if (typeof payload !== "object" || payload === null) throw new Error("flag payload is not an object");
  if (Array.isArray((payload as { events?: unknown }).events)) {
    const events = (payload as { events: unknown[] }).events;
    events.forEach(checkDeltaEvent);
    if (!current || events.some((e) => (e as DeltaEvent).type === "hydration"))
      return parseFlagState(applyDelta(current ?? EMPTY, events as DeltaEvent[]));
    return applyCheckedDelta(current, events as DeltaEvent[]);
  }
  if (Array.isArray((payload as { features?: unknown }).features)) return parseFlagState(payload);
  throw new Error("flag payload has neither features nor events");
}

/**
 * Updates on top of a state already checked: only what the events carry is validated, and the flags
 * they leave alone stay the same objects, so that an update costs the size of the delta (with
 * 1,000 clients in a few processes, re-checking the whole state at every change was most of the
 * propagation delay). The result meets the same rules as a whole state's: segment references hold.
 */
function applyCheckedDelta(current: FlagState, events: DeltaEvent[]): FlagState {
  const checked = events.map((event, index): DeltaEvent => {
    const at = (e: unknown) => new Error(`flag payload: events[${index}]: ${(e as Error).message}`);
    try {
      if (event.type === "feature-updated") return { ...event, feature: parseFlag(event.feature) };
      if (event.type === "segment-updated")
        return {
          ...event,
          segment: parseFlagState({ features: [], segments: [event.segment] }).segments![0]!,
        };
    } catch (error) {
      throw at(error);
    }
    return event;
  });
  const next = applyDelta(current, checked);
  const segmentIds = new Set((next.segments ?? []).map((segment) => segment.id));
  const segmentRemoved = checked.some((e) => e.type === "segment-removed");
  const updated = new Set(checked.flatMap((e) => (e.type === "feature-updated" ? [e.feature.name] : [])));
  for (const flag of next.features) {
    if (!segmentRemoved && !updated.has(flag.name)) continue;
    for (const strategy of flag.strategies)
      for (const id of strategy.segments ?? [])
        if (!segmentIds.has(id))
          throw new Error(`flag payload: flag ${flag.name} uses no segment with id ${id}`);
  }
  return next;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

// applyDelta trusts its input; the fields it reads are checked here, the flags and segments they carry
// by parseFlagState on the result.
function checkDeltaEvent(event: unknown, index: number): void {
  const bad = (what: string) => new Error(`flag payload: events[${index}] ${what}`);
  if (!isObject(event) || typeof event.type !== "string") throw bad("has no type");
  switch (event.type) {
    case "hydration":
      if (!Array.isArray(event.features)) throw bad("(hydration) has no features");
      if (event.segments !== undefined && !Array.isArray(event.segments)) throw bad("has bad segments");
      break;
    case "feature-updated":
      if (!isObject(event.feature)) throw bad("(feature-updated) has no feature");
      break;
    case "feature-removed":
      if (typeof event.featureName !== "string") throw bad("(feature-removed) has no featureName");
      break;
    case "segment-updated":
      if (!isObject(event.segment)) throw bad("(segment-updated) has no segment");
      break;
    case "segment-removed":
      if (typeof event.segmentId !== "number") throw bad("(segment-removed) has no segmentId");
      break;
  }
}
