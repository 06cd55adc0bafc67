import { BatonControlError, ReleaseInProgressError } from "../errors.js";
import type { RunState, Waiting } from "./release-runner.js";
import type { ReleaseOutcome } from "./release-steps.js";

/**
 * The one release of a service in flight in this process, and what the API may ask of it. A deploy
 * reserves the slot before it awaits anything, so a second one meanwhile is refused at once.
 */
export class ReleaseSlot {
  private running: { id: number; done: Promise<ReleaseOutcome>; state: RunState } | undefined;
  private reserved = false;

  constructor(private readonly service: string) {}

  /** Runs `prepare` (which ends by `hold`ing a release, or throws) with the slot reserved. */
  async reserve<T>(prepare: () => Promise<T>): Promise<T> {
    if (this.running || this.reserved)
      throw new ReleaseInProgressError(
        this.service,
        this.running ? `release ${this.running.id} is still running` : "another deploy is starting",
      );
    this.reserved = true;
    try {
      return await prepare();
    } finally {
      this.reserved = false;
    }
  }

  /** The release `id` now runs as `done`; the slot frees itself when it ends. */
  hold(id: number, state: RunState, done: Promise<ReleaseOutcome>): Promise<ReleaseOutcome> {
    const held = done.finally(() => {
      state.finished = true;
      if (this.running?.state === state) this.running = undefined;
    });
    held.catch(() => {});
    this.running = { id, done: held, state };
    return held;
  }

  promote(): void {
    this.state().promoted = true;
  }

  abort(reason: string): void {
    this.state().aborted = reason;
  }

  /** Asks the release in flight, if any, to roll back, and waits for it to end. */
  async shutDown(): Promise<void> {
    if (this.running) this.running.state.aborted ??= "the control plane is shutting down";
    await this.settled();
  }

  /** Resolves when no release is in flight here (or when `id` is no longer the one in flight). */
  async settled(id?: number): Promise<void> {
    if (id === undefined || this.running?.id === id) await this.running?.done.catch(() => {});
  }

  /** What the release in flight waits for, if one is in flight and waits. */
  get waiting(): Waiting | undefined {
    return this.running?.state.waiting;
  }

  private state(): RunState {
    if (!this.running)
      throw new BatonControlError("BATON_NO_RELEASE_RUNNING", `no release of ${this.service} is running`);
    return this.running.state;
  }
}
