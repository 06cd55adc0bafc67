import { Client } from "undici";
import type { HostPort } from "./address.js";
import type { ServiceConfig } from "./config-schema.js";
import { InstanceMetrics } from "./instance-metrics.js";
import { InstanceState } from "./instance-state.js";
import type { Logger } from "./logger.js";
import { UpstreamPool, type UpstreamPoolOptions } from "./upstream-pool.js";

/** A proxied WebSocket pinned to an instance; closed with 1001 when a drain runs out of time. */
export interface WebSocketSession {
  close(code: number, reason: string): void;
}

export interface InstanceHooks {
  /** Called after every state change, so the service can rebuild its lists of ready instances. */
  stateChanged(instance: Instance, from: InstanceState, to: InstanceState, reason: string): void;
  /** Whether taking this instance out passively would leave its track within `maxEjectedPercent`. */
  mayEject(instance: Instance): boolean;
  /** The instance was just ejected passively: evidence against the version it runs. */
  ejected(instance: Instance, reason: string): void;
}

type Policy = Pick<
  ServiceConfig,
  "health" | "passive" | "timeouts" | "drain" | "maxConnectionsPerInstance" | "maxQueuedPerInstance"
>;

function poolOptions(policy: Policy): UpstreamPoolOptions {
  return {
    maxConnections: policy.maxConnectionsPerInstance,
    maxQueued: policy.maxQueuedPerInstance,
    queueTimeout: policy.timeouts.queue,
    connectTimeout: policy.timeouts.connect,
    responseTimeout: policy.timeouts.response,
    idleTimeout: policy.timeouts.idle,
    keepAlive: 4_000,
  };
}

/**
 * One upstream address of a service. Its state changes only through the named transitions below;
 * nothing on the request path waits on anything slow here.
 */
export class Instance {
  readonly key: string;
  readonly origin: string;
  readonly upstream: UpstreamPool;
  state: InstanceState;
  /** Requests currently being proxied to this instance. */
  inflight = 0;
  readonly websockets = new Set<WebSocketSession>();
  /** Track and version this instance currently serves, and its counters for that membership. */
  track = "";
  version = "";
  metrics = new InstanceMetrics();
  lastCheck: { ok: boolean; at: number; detail: string } | undefined;
  drainDeadline = 0;

  private policy: Policy;
  private checkClient: Client | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private checkSuccesses = 0;
  private checkFailures = 0;
  private consecutiveErrors = 0;
  private ejections = 0;
  private ejectTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly address: HostPort,
    policy: Policy,
    private readonly hooks: InstanceHooks,
    private readonly log: Logger,
  ) {
    this.key = address.host.includes(":")
      ? `[${address.host}]:${address.port}`
      : `${address.host}:${address.port}`;
    this.origin = `http://${this.key}`;
    this.policy = policy;
    this.upstream = new UpstreamPool(address.host, address.port, poolOptions(policy));
    this.state = policy.health ? InstanceState.Pending : InstanceState.Healthy;
  }

  get acceptsTraffic(): boolean {
    return this.state === InstanceState.Healthy;
  }

  /** Starts active health checks (the first one at once, so a new instance joins quickly). */
  start(): void {
    if (this.policy.health && !this.checkTimer) this.scheduleCheck(0);
  }

  /** Applies a new policy from a config update; health-check changes take effect at the next check. */
  updatePolicy(policy: Policy): void {
    const hadHealth = !!this.policy.health;
    this.policy = policy;
    this.upstream.configure(poolOptions(policy));
    if (!policy.health && hadHealth) {
      clearTimeout(this.checkTimer);
      this.checkTimer = undefined;
      if (this.state === InstanceState.Pending || this.state === InstanceState.Unhealthy) {
        this.transition(InstanceState.Healthy, "health checks removed from config");
      }
    } else if (policy.health && !hadHealth) {
      this.start();
    }
  }

  // ---- transitions -------------------------------------------------------------------------

  private transition(to: InstanceState, reason: string): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.log.info({ instance: this.key, track: this.track, from, to, reason }, "instance state changed");
    this.hooks.stateChanged(this, from, to, reason);
  }

  /** An active check passed: after `rise` in a row, a pending or unhealthy instance takes traffic. */
  healthCheckPassed(detail: string): void {
    this.lastCheck = { ok: true, at: Date.now(), detail };
    this.checkFailures = 0;
    this.checkSuccesses++;
    const rise = this.policy.health?.rise ?? 1;
    if (
      (this.state === InstanceState.Pending || this.state === InstanceState.Unhealthy) &&
      this.checkSuccesses >= rise
    ) {
      this.transition(InstanceState.Healthy, `${this.checkSuccesses} health checks passed`);
    }
  }

  /** An active check failed: after `fall` in a row, a serving instance is taken out. */
  healthCheckFailed(detail: string): void {
    this.lastCheck = { ok: false, at: Date.now(), detail };
    this.checkSuccesses = 0;
    this.checkFailures++;
    const fall = this.policy.health?.fall ?? 1;
    if (
      (this.state === InstanceState.Healthy || this.state === InstanceState.Ejected) &&
      this.checkFailures >= fall
    ) {
      clearTimeout(this.ejectTimer);
      this.transition(InstanceState.Unhealthy, `${this.checkFailures} health checks failed: ${detail}`);
    }
  }

  /** A proxied request got a response below 500: the passive failure streak ends. */
  requestSucceeded(): void {
    this.consecutiveErrors = 0;
  }

  /**
   * A proxied request failed to connect, was reset, or got a 5xx. After `consecutiveFailures` in a
   * row the instance is ejected for a back-off that doubles with each ejection (up to `maxEjection`).
   */
  requestFailed(reason: string): void {
    this.consecutiveErrors++;
    const p = this.policy.passive;
    if (this.state !== InstanceState.Healthy || this.consecutiveErrors < p.consecutiveFailures) return;
    if (!this.hooks.mayEject(this)) return;
    const backoff = Math.min(p.baseEjection * 2 ** this.ejections, p.maxEjection);
    this.ejections++;
    this.consecutiveErrors = 0;
    const why = `${p.consecutiveFailures} consecutive failures (${reason}); back in ${backoff}ms`;
    this.transition(InstanceState.Ejected, why);
    this.ejectTimer = setTimeout(() => this.ejectionElapsed(), backoff);
    this.ejectTimer.unref();
    this.hooks.ejected(this, why);
  }

  private ejectionElapsed(): void {
    if (this.state !== InstanceState.Ejected) return;
    this.transition(InstanceState.Healthy, "ejection back-off elapsed");
    // A healthy spell forgives past ejections, so the next one starts from the base back-off again.
    const forgive = setTimeout(() => {
      if (this.state === InstanceState.Healthy) this.ejections = 0;
    }, this.policy.passive.maxEjection);
    forgive.unref();
  }

  /** Removed from the config: take no new requests; stop once idle, or at the drain deadline. */
  drain(): void {
    if (this.state === InstanceState.Draining || this.state === InstanceState.Stopped) return;
    clearTimeout(this.ejectTimer);
    this.drainDeadline = Date.now() + this.policy.drain.timeout;
    this.transition(InstanceState.Draining, "removed from config");
    this.drainTimer = setTimeout(() => void this.drainDeadlineReached(), this.policy.drain.timeout);
    this.drainTimer.unref();
    this.stopIfIdle();
  }

  /** Put back into the config while still draining: serve again, keeping the health it had. */
  revive(): void {
    if (this.state !== InstanceState.Draining) return;
    clearTimeout(this.drainTimer);
    this.drainDeadline = 0;
    const serving = !this.policy.health || (this.lastCheck?.ok ?? false);
    this.transition(serving ? InstanceState.Healthy : InstanceState.Pending, "added back to config");
  }

  /** Bookkeeping for the request path: a request or WebSocket on this instance ended. */
  released(): void {
    if (this.state === InstanceState.Draining) this.stopIfIdle();
  }

  private stopIfIdle(): void {
    if (this.inflight === 0 && this.websockets.size === 0) void this.stop("drained");
  }

  private async drainDeadlineReached(): Promise<void> {
    if (this.state !== InstanceState.Draining) return;
    const sessions = [...this.websockets];
    const { websocketCloseBatch: batch, websocketCloseInterval: interval } = this.policy.drain;
    this.log.info(
      { instance: this.key, websockets: sessions.length, inflight: this.inflight },
      "drain timeout reached; closing WebSockets in batches",
    );
    // Staggered, so that clients do not all reconnect in the same millisecond.
    for (let i = 0; i < sessions.length; i += batch) {
      if (i > 0) await new Promise((r) => setTimeout(r, interval));
      // Put back into the table meanwhile (a rollback, say): stop draining it.
      if ((this.state as InstanceState) !== InstanceState.Draining) return;
      for (const s of sessions.slice(i, i + batch)) s.close(1001, "instance draining");
    }
    if ((this.state as InstanceState) !== InstanceState.Draining) return;
    await this.stop("drain timeout");
  }

  /** Stops checks and closes upstream connections. Safe to call more than once. */
  stop(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      clearTimeout(this.checkTimer);
      clearTimeout(this.ejectTimer);
      clearTimeout(this.drainTimer);
      this.checkTimer = undefined;
      this.transition(InstanceState.Stopped, reason);
      for (const s of this.websockets) s.close(1001, "instance stopped");
      this.upstream.destroy();
      await this.checkClient?.destroy().catch(() => {});
    })();
    return this.stopping;
  }

  // ---- active health checks ----------------------------------------------------------------

  private scheduleCheck(delay: number): void {
    this.checkTimer = setTimeout(() => void this.runCheck(), delay);
    this.checkTimer.unref();
  }

  private async runCheck(): Promise<void> {
    const health = this.policy.health;
    if (!health || this.state === InstanceState.Stopped) return;
    // A client of its own, so a check never queues behind proxied traffic on a busy pool.
    this.checkClient ??= new Client(this.origin, {
      connectTimeout: health.timeout,
      keepAliveTimeout: 10_000,
    });
    const started = Date.now();
    try {
      const res = await this.checkClient.request({
        method: "GET",
        path: health.path,
        headers: { "user-agent": "baton-router-health", host: this.key },
        headersTimeout: health.timeout,
        bodyTimeout: health.timeout,
        signal: AbortSignal.timeout(health.timeout),
      });
      await res.body.dump();
      if (!this.policy.health) return; // checks were removed while this one ran
      if (res.statusCode >= 200 && res.statusCode < 400) this.healthCheckPassed(`HTTP ${res.statusCode}`);
      else this.healthCheckFailed(`HTTP ${res.statusCode} from ${health.path}`);
    } catch (err) {
      if (!this.policy.health) return;
      const e = err as Error & { code?: string };
      this.healthCheckFailed(`${e.code ?? e.name}: ${e.message} (${Date.now() - started}ms)`);
    }
    // The state may have changed while the check was in flight.
    if ((this.state as InstanceState) !== InstanceState.Stopped && this.policy.health)
      this.scheduleCheck(this.policy.health.interval);
  }
}
