import { formatDuration } from "../format-duration.js";
import { ProcessState } from "./instance-process-state.js";
import type { Instance, InstanceRecord } from "./provider.js";

/**
 * What every instance shares: its state (changed only through `transition`), and the readiness
 * check polled every 200 ms that moves it from starting to ready.
 */
export abstract class WatchedInstance implements Instance {
  state: ProcessState = ProcessState.Starting;
  pid = 0;
  restarts = 0;
  lastHealth = "";
  protected watchTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(s: ProcessState) => void>();

  constructor(
    readonly version: string,
    /** The path its version was released with (kept in its record), not the service file's now. */
    readonly readinessPath: string,
  ) {}

  abstract get address(): string;
  abstract get record(): InstanceRecord;
  abstract stop(graceMs: number): Promise<void>;
  abstract restart(): void;
  /** Called at every look: true when the instance is gone (its process exited unseen). */
  protected abstract gone(): boolean;
  /** What to do when it is gone. */
  protected abstract lost(): void;

  onState(fn: (s: ProcessState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  protected transition(to: ProcessState): void {
    if (this.state === to) return;
    this.state = to;
    for (const fn of this.listeners) fn(to);
  }

  waitReady(timeoutMs: number): Promise<void> {
    if (this.state === ProcessState.Ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        if (this.state !== ProcessState.Ready) this.transition(ProcessState.Failed);
        reject(
          new Error(
            `instance ${this.address} (${this.version}) not ready after ${formatDuration(timeoutMs)}: ${this.lastHealth || "no answer"}`,
          ),
        );
      }, timeoutMs);
      const off = this.onState((s) => {
        if (s === ProcessState.Ready) {
          clearTimeout(timer);
          off();
          resolve();
        } else if (s === ProcessState.Stopped || s === ProcessState.Failed) {
          clearTimeout(timer);
          off();
          reject(
            new Error(`instance ${this.address} (${this.version}) ${s}: ${this.lastHealth || "exited"}`),
          );
        }
      });
    });
  }

  /** Polls readiness (and whether the instance is still there) every 200 ms. */
  protected watch(): void {
    const tick = async () => {
      if (
        this.state === ProcessState.Stopping ||
        this.state === ProcessState.Stopped ||
        this.state === ProcessState.Restarting
      ) {
        return;
      }
      if (this.gone()) return this.lost();
      try {
        const res = await fetch(`http://${this.address}${this.readinessPath}`, {
          // Named, so that a service (and @baton/runtime's request counts) can tell probes from traffic.
          headers: { "user-agent": "baton-control-health" },
          signal: AbortSignal.timeout(1000),
        });
        await res.arrayBuffer();
        this.lastHealth = `HTTP ${res.status} from ${this.readinessPath}`;
        if (res.ok && this.state === ProcessState.Starting) this.transition(ProcessState.Ready);
      } catch (err) {
        const cause = (err as { cause?: Error }).cause;
        this.lastHealth = cause ? String(cause.message) : (err as Error).message;
      }
      if ((this.state as ProcessState) !== ProcessState.Stopped) {
        this.watchTimer = setTimeout(() => void tick(), 200);
        this.watchTimer.unref();
      }
    };
    void tick();
  }
}
