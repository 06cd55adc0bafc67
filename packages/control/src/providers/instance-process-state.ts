/**
 * The life of one local instance, changed only by the named transitions of `LocalInstance`.
 *
 *   starting --ready--> ready --exited--> restarting --(back-off)--> starting
 *   starting --start timeout--> failed
 *   any --stop()--> stopping --exited--> stopped
 */
export const ProcessState = {
  Starting: "starting",
  Ready: "ready",
  /** Exited unexpectedly; a new process on the same port comes after a back-off. */
  Restarting: "restarting",
  /** Never became ready within the start timeout. */
  Failed: "failed",
  Stopping: "stopping",
  Stopped: "stopped",
} as const;
export type ProcessState = (typeof ProcessState)[keyof typeof ProcessState];
