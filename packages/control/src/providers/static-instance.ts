import { ProcessState } from "./instance-process-state.js";
import type { InstanceRecord } from "./provider.js";
import { WatchedInstance } from "./watched-instance.js";

/**
 * An instance something else runs (a VM, a container platform): Baton only checks its readiness
 * and moves traffic to and from it. Stopping it means it is out of the router (the release has
 * drained it by then); the process itself is its owner's to stop.
 */
export class StaticInstance extends WatchedInstance {
  constructor(
    readonly address: string,
    version: string,
    readinessPath: string,
  ) {
    super(version, readinessPath);
  }

  get record(): InstanceRecord {
    const port = Number(this.address.slice(this.address.lastIndexOf(":") + 1));
    return { pid: 0, port, version: this.version, address: this.address, readinessPath: this.readinessPath };
  }

  /** Starts watching readiness. */
  start(): this {
    this.transition(ProcessState.Starting);
    this.watch();
    return this;
  }

  async stop(): Promise<void> {
    clearTimeout(this.watchTimer);
    this.transition(ProcessState.Stopped);
  }

  restart(): void {
    if (this.state === ProcessState.Stopped || this.state === ProcessState.Failed) this.start();
  }

  protected gone(): boolean {
    return false; // not ours to watch beyond its readiness
  }

  protected lost(): void {}
}
