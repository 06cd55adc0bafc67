/**
 * A body or message as a change sees it. Typed by each change's author (`(v1: PaymentV1) => ...`);
 * the chain itself only hands values from one change to the next.
 */
// biome-ignore lint/suspicious/noExplicitAny: each change declares the shapes it reads and writes
export type Body = any;

/** One change of a chain as the chain runs it: the version it arrived in, both directions, a scope. */
export interface ChainStep<Scope> {
  /** The version that introduced the change. */
  version: string;
  /** What changed, in words; error messages quote it. */
  description: string;
  /** Whether the change concerns this request or message (a route, a message type). */
  applies(scope: Scope): boolean;
  /** Older shape to the shape of `version`. */
  up?: ((value: Body, scope: Scope) => unknown) | undefined;
  /** Shape of `version` to the older one. */
  down?: ((value: Body, scope: Scope) => unknown) | undefined;
}

/**
 * A change threw: names the change, the direction and the version, so that whoever reads the log
 * knows which transform to fix (or which client sent what it should not have).
 */
export class VersionTransformError extends Error {
  constructor(
    /** `up`: an older request or message made newer; `down`: a newer response made older. */
    readonly direction: "up" | "down",
    /** The version the value was in (up) or is going to (down). */
    readonly clientVersion: string,
    /** The change that threw. */
    readonly change: { version: string; description: string },
    cause: unknown,
  ) {
    const what = cause instanceof Error ? cause.message : String(cause);
    super(
      direction === "up"
        ? `cannot read a ${clientVersion} body as ${change.version} (change "${change.description}"): ${what}`
        : `cannot write a ${change.version} body as ${clientVersion} (change "${change.description}"): ${what}`,
      { cause },
    );
    this.name = "VersionTransformError";
  }
}

/**
 * Versions, oldest first (the last is the canonical model the handler is written against), and
 * the changes between them. A value in an old version goes up through every later change, in
 * order; a canonical value goes down through the same changes in reverse.
 */
export class VersionChain<Scope> {
  readonly latest: string;
  private readonly index = new Map<string, number>();
  /** The changes each version introduced, by the version's position. */
  private readonly byVersion: ChainStep<Scope>[][];

  constructor(
    readonly versions: readonly string[],
    steps: readonly ChainStep<Scope>[],
    what = "version",
  ) {
    if (versions.length === 0) throw new Error(`versioning: no ${what}s given (list them oldest first)`);
    versions.forEach((v, i) => {
      if (typeof v !== "string" || v === "") throw new Error(`versioning: ${what} #${i + 1} is empty`);
      if (this.index.has(v)) throw new Error(`versioning: ${what} "${v}" is listed twice`);
      this.index.set(v, i);
    });
    this.latest = versions[versions.length - 1]!;
    this.byVersion = versions.map(() => []);
    for (const step of steps) {
      const at = this.index.get(step.version);
      if (at === undefined)
        throw new Error(
          `versioning: change "${step.description}" names ${what} "${step.version}", which is not one of ${versions.join(", ")}`,
        );
      if (at === 0)
        throw new Error(
          `versioning: change "${step.description}" is on ${step.version}, the oldest ${what}: a change belongs to the ${what} that introduced it, and nothing comes before the oldest`,
        );
      this.byVersion[at]!.push(step);
    }
  }

  has(version: string): boolean {
    return this.index.has(version);
  }

  /** `value`, sent in `from`, in the latest version's shape. Throws VersionTransformError. */
  upgrade(value: unknown, from: string, scope: Scope): unknown {
    const start = this.position(from);
    let out = value;
    for (let v = start + 1; v < this.byVersion.length; v++)
      for (const step of this.byVersion[v]!) {
        if (!step.up || !step.applies(scope)) continue;
        try {
          out = step.up(out, scope);
        } catch (err) {
          throw new VersionTransformError("up", from, step, err);
        }
      }
    return out;
  }

  /** `value`, in the latest version's shape, as `to` expects it. Throws VersionTransformError. */
  downgrade(value: unknown, to: string, scope: Scope): unknown {
    const end = this.position(to);
    let out = value;
    for (let v = this.byVersion.length - 1; v > end; v--) {
      const steps = this.byVersion[v]!;
      for (let s = steps.length - 1; s >= 0; s--) {
        const step = steps[s]!;
        if (!step.down || !step.applies(scope)) continue;
        try {
          out = step.down(out, scope);
        } catch (err) {
          throw new VersionTransformError("down", to, step, err);
        }
      }
    }
    return out;
  }

  private position(version: string): number {
    const at = this.index.get(version);
    if (at === undefined)
      throw new Error(`versioning: "${version}" is not one of ${this.versions.join(", ")}`);
    return at;
  }
}
