/** One side (flag on, or off) of a flag's requests since the last report. */
export interface OutcomeSide {
  requests: number;
  /** Requests that failed: a 5xx answer, or a thrown handler. */
  errors: number;
  /** Non-empty latency buckets, [upper bound in ms, count], ascending. */
  latency: [number, number][];
}

/** What `POST /api/client/outcomes` carries per flag. */
export type OutcomePayload = Record<string, { on?: OutcomeSide; off?: OutcomeSide }>;

interface Side {
  requests: number;
  errors: number;
  latency: Map<number, number>;
}

/**
 * The upper bound of the bucket `x` falls in on a grid of two significant digits (1.0, 1.1, ...
 * 9.9, 10, 11, ... 990, 1000, 1100), clamped to [min, max]: about 90 buckets a decade, so a
 * histogram resolves about 1% at any scale, as the router's latency histograms do. One grid for
 * flag outcomes and for the applications' release metrics, so the analysis reads them alike.
 */
export function twoDigitBucket(x: number, min: number, max: number): number {
  const v = x > min ? (x < max ? x : max) : min;
  const scale = 10 ** (Math.floor(Math.log10(v)) - 1);
  // Rounded again: 0.1 * 13 is 1.3000000000000003.
  return Number((Math.ceil(v / scale - 1e-9) * scale).toPrecision(2));
}

/** The bucket a latency falls in (0.1 ms to 600 s): at most ~180 buckets a side between 0.1 ms and 60 s. */
export function latencyBucket(ms: number): number {
  return twoDigitBucket(ms, 0.1, 600_000);
}

/**
 * Request outcomes per flag and side since the last report: what a guarded rollout compares. A
 * report that fails is merged back, so that nothing is lost while the control plane is away; the
 * number of flags held is bounded by the flags the application evaluates.
 */
export class OutcomeBucket {
  #flags = new Map<string, { on: Side; off: Side }>();

  record(evaluated: ReadonlyMap<string, boolean>, failed: boolean, latencyMs: number): void {
    if (evaluated.size === 0) return;
    const le = latencyBucket(latencyMs);
    for (const [name, enabled] of evaluated) this.#add(name, enabled, 1, failed ? 1 : 0, [[le, 1]]);
  }

  get empty(): boolean {
    return this.#flags.size === 0;
  }

  take(): OutcomePayload {
    const payload: OutcomePayload = {};
    for (const [name, sides] of this.#flags) {
      const entry: { on?: OutcomeSide; off?: OutcomeSide } = {};
      if (sides.on.requests > 0) entry.on = toSide(sides.on);
      if (sides.off.requests > 0) entry.off = toSide(sides.off);
      payload[name] = entry;
    }
    this.#flags = new Map();
    return payload;
  }

  restore(payload: OutcomePayload): void {
    for (const [name, sides] of Object.entries(payload)) {
      if (sides.on) this.#add(name, true, sides.on.requests, sides.on.errors, sides.on.latency);
      if (sides.off) this.#add(name, false, sides.off.requests, sides.off.errors, sides.off.latency);
    }
  }

  #add(name: string, on: boolean, requests: number, errors: number, latency: [number, number][]): void {
    let sides = this.#flags.get(name);
    if (!sides) this.#flags.set(name, (sides = { on: emptySide(), off: emptySide() }));
    const side = on ? sides.on : sides.off;
    side.requests += requests;
    side.errors += errors;
    for (const [le, n] of latency) side.latency.set(le, (side.latency.get(le) ?? 0) + n);
  }
}

const emptySide = (): Side => ({ requests: 0, errors: 0, latency: new Map() });

function toSide(s: Side): OutcomeSide {
  return {
    requests: s.requests,
    errors: s.errors,
    latency: [...s.latency.entries()].sort((a, b) => a[0] - b[0]),
  };
}
