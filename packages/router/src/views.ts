import { serviceToInput } from "./config.js";
import type { Instance } from "./instance.js";
import { InstanceState } from "./instance-state.js";
import type { WindowSummary } from "./latency-window.js";
import type { Service } from "./service.js";

export interface InstanceView {
  address: string;
  track: string;
  version: string;
  state: InstanceState;
  inflight: number;
  websockets: number;
  upstreamConnections: number;
  lastCheck?: { ok: boolean; at: string; detail: string };
  /** Epoch ms at which a draining instance is stopped regardless of what is still open. */
  drainDeadline?: string;
}

export interface ServiceView {
  name: string;
  hosts?: string[];
  tracks: { name: string; version: string; weight: number; ready: number; instances: InstanceView[] }[];
  /** Instances removed from the config that still finish requests or hold WebSockets. */
  draining: InstanceView[];
  pausedRequests: number;
  config: Record<string, unknown>;
}

export interface TrackStatsView extends WindowSummary {
  track: string;
  version: string;
  /** Whether this track/version is in the current table (older versions stay while in the window). */
  current: boolean;
  weight: number;
  websocketsOpen: number;
  /** Passive ejections of this version's instances in the window: evidence against the version. */
  ejections: number;
  totals: {
    requests: number;
    errors5xx: number;
    websockets: number;
    paused: number;
    pauseTimeouts: number;
    ejections: number;
  };
}

export interface StatsView {
  service: string;
  windowSeconds: number;
  at: string;
  tracks: TrackStatsView[];
}

export function instanceView(i: Instance): InstanceView {
  return {
    address: i.key,
    track: i.track,
    version: i.version,
    state: i.state,
    inflight: i.inflight,
    websockets: i.websockets.size,
    upstreamConnections: i.upstream.connected,
    ...(i.lastCheck
      ? {
          lastCheck: {
            ok: i.lastCheck.ok,
            at: new Date(i.lastCheck.at).toISOString(),
            detail: i.lastCheck.detail,
          },
        }
      : {}),
    ...(i.state === InstanceState.Draining ? { drainDeadline: new Date(i.drainDeadline).toISOString() } : {}),
  };
}

export function serviceView(s: Service): ServiceView {
  const inTable = new Set<Instance>();
  const tracks = s.table.tracks.map((t) => {
    for (const m of t.members) inTable.add(m);
    return {
      name: t.name,
      version: t.version,
      weight: t.config.weight,
      ready: t.ready.length,
      instances: t.members.map(instanceView),
    };
  });
  return {
    name: s.name,
    ...(s.config.hosts ? { hosts: s.config.hosts } : {}),
    tracks,
    draining: [...s.instances.values()].filter((i) => !inTable.has(i)).map(instanceView),
    pausedRequests: s.pauseQueue.size,
    config: serviceToInput(s.config),
  };
}

export function statsView(s: Service, windowSeconds: number, nowMs = Date.now()): StatsView {
  const current = new Map(s.table.tracks.map((t) => [t.stats, t]));
  const tracks: TrackStatsView[] = [];
  for (const st of s.allTrackStats()) {
    const t = current.get(st);
    const summary = st.window.summarize(nowMs, windowSeconds);
    const ejections = st.ejectionsWithin(nowMs, windowSeconds);
    if (!t && summary.requests === 0 && st.websocketsOpen === 0 && ejections === 0) continue;
    tracks.push({
      track: st.track,
      version: st.version,
      current: !!t,
      weight: t?.config.weight ?? 0,
      ...summary,
      websocketsOpen: st.websocketsOpen,
      ejections,
      totals: {
        requests: st.requests,
        errors5xx: st.errors5xx,
        websockets: st.websocketsTotal,
        paused: st.paused,
        pauseTimeouts: st.pauseTimeouts,
        ejections: st.ejections,
      },
    });
  }
  return { service: s.name, windowSeconds, at: new Date(nowMs).toISOString(), tracks };
}
