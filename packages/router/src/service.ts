import { timingSafeEqual } from "node:crypto";
import { ClientGuard } from "./client-guard.js";
import type { ServiceConfig, TrackConfig } from "./config-schema.js";
import { Instance } from "./instance.js";
import { InstanceMetrics } from "./instance-metrics.js";
import { InstanceState } from "./instance-state.js";
import type { Logger } from "./logger.js";
import { PauseQueue } from "./pause-queue.js";
import { serviceSalt, stickyBucket } from "./sticky-bucket.js";
import type { StickyKey } from "./sticky-key.js";
import { Track } from "./track.js";
import { TrackStats } from "./track-stats.js";

/** An immutable routing table: a request reads `service.table` once and sees one version of it. */
export class RoutingTable {
  readonly byName: Map<string, Track>;
  /** Sticky key -> track, from the tracks' allow-lists. */
  readonly allowed: Map<string, Track>;
  /** More than one track takes weight: only then does a request need a bucket. */
  readonly splits: boolean;

  constructor(
    readonly config: ServiceConfig,
    readonly tracks: Track[],
  ) {
    this.byName = new Map(tracks.map((t) => [t.name, t]));
    this.allowed = new Map();
    for (const t of tracks) for (const k of t.config.allow) this.allowed.set(k, t);
    this.splits = tracks.filter((t) => t.config.weight > 0).length > 1;
  }

  /** The track for a sticky bucket: ranges are laid out in config order. */
  trackForBucket(bucket: number): Track {
    const tracks = this.tracks;
    for (let i = 0; i < tracks.length; i++) {
      const t = tracks[i]!;
      if (bucket < t.end && t.end > t.start) return t;
    }
    // Unreachable while weights add up to 10000; the last track is a safe answer regardless.
    return tracks[tracks.length - 1]!;
  }
}

/**
 * A service: the current routing table plus everything that outlives a table swap (instances with
 * their health, per-version stats, waiting requests, instances still draining).
 */
export class Service {
  table!: RoutingTable;
  readonly salt: number;
  readonly pauseQueue = new PauseQueue();
  /** Per-client-address limits and the slow-client watch (limits read live from the config). */
  readonly clients = new ClientGuard(() => this.table.config.clients);
  /** Every live instance by address, in the table or draining. */
  readonly instances = new Map<string, Instance>();
  private readonly trackStats = new Map<string, TrackStats>();
  private readonly metricsByMembership = new Map<string, InstanceMetrics>();

  constructor(
    readonly name: string,
    config: ServiceConfig,
    private readonly log: Logger,
  ) {
    this.salt = serviceSalt(name);
    this.apply(config);
  }

  get config(): ServiceConfig {
    return this.table.config;
  }

  /**
   * Builds the new table from `config` and swaps it in one assignment. Instances present in both
   * keep their health; new ones start pending (or healthy without checks); removed ones drain.
   */
  apply(config: ServiceConfig): void {
    const fresh: Instance[] = [];
    const keep = new Set<Instance>();
    const tracks: Track[] = [];
    let cursor = 0;
    for (const [name, tc] of Object.entries(config.tracks)) {
      const members: Instance[] = [];
      const policy = trackPolicy(config, tc);
      for (const addr of tc.instances) {
        const key = addr.host.includes(":") ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
        let inst = this.instances.get(key);
        if (!inst || inst.state === InstanceState.Stopped) {
          inst = new Instance(addr, policy, this.hooks, this.log.child?.({ service: this.name }) ?? this.log);
          this.instances.set(key, inst);
          fresh.push(inst);
        } else {
          inst.updatePolicy(policy);
          inst.revive();
        }
        this.assignMembership(inst, name, tc.version);
        keep.add(inst);
        members.push(inst);
      }
      const stats = this.statsFor(name, tc.version);
      tracks.push(new Track(name, tc, cursor, cursor + tc.weight, members, stats));
      cursor += tc.weight;
    }
    for (const t of tracks) t.refreshReady();
    const next = new RoutingTable(config, tracks);
    this.table = next;
    for (const inst of this.instances.values()) {
      if (!keep.has(inst)) inst.drain();
    }
    for (const inst of fresh) inst.start();
    this.wakeWaiters();
    this.pruneStats();
  }

  /**
   * Forgets versions that left the table and whose whole window has gone quiet, so a router that
   * lives through hundreds of releases keeps the stats of a few versions, not all of them.
   */
  private pruneStats(): void {
    const live = new Set(this.table.tracks.map((t) => t.stats));
    const horizon = Date.now() - 300_000;
    for (const [key, st] of this.trackStats) {
      if (!live.has(st) && st.websocketsOpen === 0 && st.window.lastActiveMs < horizon)
        this.trackStats.delete(key);
    }
  }

  /** Removes the service: every instance drains. */
  drainAll(): void {
    for (const inst of this.instances.values()) inst.drain();
    this.pauseQueue.clear();
  }

  async close(): Promise<void> {
    this.pauseQueue.clear();
    this.clients.close();
    await Promise.all([...this.instances.values()].map((i) => i.stop("router closed")));
  }

  /**
   * The track a request asks for with `x-baton-track`, when it may: the service has a
   * `trackOverride` token and the request carries it.
   */
  permittedOverride(head: {
    trackOverride: string | undefined;
    trackToken: string | undefined;
  }): string | undefined {
    const want = this.table.config.trackOverride?.token;
    if (head.trackOverride === undefined || want === undefined || head.trackToken === undefined)
      return undefined;
    const a = Buffer.from(head.trackToken);
    const b = Buffer.from(want);
    return a.length === b.length && timingSafeEqual(a, b) ? head.trackOverride : undefined;
  }

  /**
   * The track for a request: allow-list first (for keys that name someone, see StickyKey), then
   * the override header, then the sticky bucket.
   */
  chooseTrack(sticky: StickyKey, override: string | undefined): Track {
    const table = this.table;
    if (sticky.named && table.allowed.size > 0) {
      const t = table.allowed.get(sticky.key);
      if (t) return t;
    }
    if (override !== undefined) {
      const t = table.byName.get(override);
      if (t) return t;
    }
    if (table.tracks.length === 1) return table.tracks[0]!;
    return table.trackForBucket(stickyBucket(sticky.key, this.salt));
  }

  statsFor(track: string, version: string): TrackStats {
    const key = `${track}\u0000${version}`;
    let s = this.trackStats.get(key);
    if (!s) {
      s = new TrackStats(track, version);
      this.trackStats.set(key, s);
    }
    return s;
  }

  /** Every stats object still relevant: tracks of the table, then older versions with traffic. */
  allTrackStats(): TrackStats[] {
    return [...this.trackStats.values()];
  }

  /** Counters per (track, version, instance); the entries of stopped instances are dropped. */
  membershipMetrics(): { track: string; version: string; instance: string; metrics: InstanceMetrics }[] {
    return [...this.metricsByMembership.entries()].map(([k, metrics]) => {
      const [track, version, instance] = k.split("\u0000") as [string, string, string];
      return { track, version, instance, metrics };
    });
  }

  private assignMembership(inst: Instance, track: string, version: string): void {
    if (inst.track === track && inst.version === version) return;
    inst.track = track;
    inst.version = version;
    const key = `${track}\u0000${version}\u0000${inst.key}`;
    let m = this.metricsByMembership.get(key);
    if (!m) {
      m = new InstanceMetrics();
      this.metricsByMembership.set(key, m);
    }
    inst.metrics = m;
  }

  private wakeWaiters(): void {
    this.pauseQueue.wake((trackName) => {
      const t = this.table.byName.get(trackName);
      // A track that left the table: the request is routed afresh by the new table.
      return !t || t.ready.length > 0;
    });
  }

  private readonly hooks = {
    stateChanged: (inst: Instance, _from: InstanceState, to: InstanceState) => {
      for (const t of this.table.tracks) if (t.members.includes(inst)) t.refreshReady();
      if (to === InstanceState.Stopped) {
        if (this.instances.get(inst.key) === inst) this.instances.delete(inst.key);
        for (const k of this.metricsByMembership.keys()) {
          if (k.endsWith(`\u0000${inst.key}`) && !this.instances.has(inst.key))
            this.metricsByMembership.delete(k);
        }
      }
      if (to === InstanceState.Healthy) this.wakeWaiters();
    },
    ejected: (inst: Instance, reason: string) => {
      this.statsFor(inst.track, inst.version).recordEjection(Date.now());
      inst.metrics.ejections++;
      this.log.warn(
        { service: this.name, track: inst.track, version: inst.version, instance: inst.key, reason },
        "instance ejected passively (counted against its version in /v1/stats)",
      );
    },
    mayEject: (inst: Instance): boolean => {
      const track = this.table.byName.get(inst.track);
      if (!track) return true;
      const total = track.members.length;
      const ejected = track.members.filter((m) => m.state === InstanceState.Ejected).length;
      return ((ejected + 1) / total) * 100 <= this.config.passive.maxEjectedPercent;
    },
  };
}

/**
 * The policy of a track's instances: the service's, with the track's own health path when it has
 * one (the readiness path its version was released with).
 */
function trackPolicy(config: ServiceConfig, track: TrackConfig): ServiceConfig {
  if (!track.health || !config.health || track.health.path === config.health.path) return config;
  return { ...config, health: { ...config.health, path: track.health.path } };
}
