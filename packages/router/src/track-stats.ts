import { LatencyWindow } from "./latency-window.js";

/** Traffic of one version of one track, kept across table swaps so windows survive weight moves. */
export class TrackStats {
  readonly window = new LatencyWindow(300);
  requests = 0;
  errors5xx = 0;
  websocketsOpen = 0;
  websocketsTotal = 0;
  /** Requests that waited for a ready instance (paused), and those that gave up waiting. */
  paused = 0;
  pauseTimeouts = 0;

  constructor(
    readonly track: string,
    readonly version: string,
  ) {}
}
