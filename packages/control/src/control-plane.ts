import { AuditLog } from "./audit/audit-log.js";
import { BatonControlError } from "./errors.js";
import { LocalProvider } from "./providers/local-provider.js";
import type { Provider } from "./providers/provider.js";
import { StaticProvider } from "./providers/static-provider.js";
import { runBlueGreenRelease } from "./release/blue-green-release.js";
import { runCanaryRelease } from "./release/canary-release.js";
import { runImmediateRelease } from "./release/immediate-release.js";
import { runInitialRelease } from "./release/initial-release.js";
import { runInstantRollback } from "./release/instant-rollback.js";
import { releaseJournal } from "./release/release-journal.js";
import { inFlight, ReleaseLifecycle } from "./release/release-lifecycle.js";
import { releaseMigration } from "./release/release-migration.js";
import { type RunState, runUntilSettled, settleAfterError, type Waiting } from "./release/release-runner.js";
import { ReleaseSlot } from "./release/release-slot.js";
import {
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  type ReleaseRunner,
  servingTable,
  startedDetails,
} from "./release/release-steps.js";
import { retirePrevious } from "./release/retire-previous.js";
import { runRollingRelease } from "./release/rolling-release.js";
import { resolveVersion } from "./release/version-resolution.js";
import { instanceLogs, type LogTail } from "./release-logs.js";
import type { AppMetrics } from "./release-metrics/app-metrics.js";
import { findServing, readinessOf, type VersionSet } from "./release-recovery.js";
import type { RouterAdmin } from "./router-admin.js";
import { keepPreviousOf, releaseSettings, type ServiceFile } from "./service-file.js";
import { type DecisionRecord, type Release, ReleaseStore } from "./state/release-store.js";
import type { SqlClient } from "./state/sql-client.js";
import { WarmVersion } from "./warm-version.js";

export interface ControlPlaneOptions {
  file: ServiceFile;
  /**
   * Reads baton.yaml again; called at every deploy and rollback, so a changed file (instances,
   * strategy, analysis) is what the next release uses. The service, its port and its provider
   * cannot change under a running control plane.
   */
  readFile?: () => Promise<ServiceFile>;
  db: SqlClient;
  router: RouterAdmin;
  routerUrl: string;
  /** Where instance logs go. */
  dataDir: string;
  /** What services report with @baton/runtime, for `analysis.metrics` (see ApiOptions.releaseMetrics). */
  appMetrics?: AppMetrics;
  log?: (line: string) => void;
}

export interface DeployRequest {
  /** Defaults to a digest of the directory's files. */
  version?: string;
  /** The release's directory; defaults to where this version was last released from. */
  cwd?: string;
  env?: Record<string, string>;
  /** Static provider: the new version's instance addresses (default: the version's last ones). */
  instances?: string[];
  strategy?: ServiceFile["strategy"] | "immediate";
  actor: string;
  /** A rollback: the version it rolls back from. */
  rollbackOf?: string;
}

export interface RollbackRequest {
  actor: string;
  /** How to restart the previous version when it is no longer warm (default: immediate). */
  strategy?: ServiceFile["strategy"] | "immediate";
}

export interface Status {
  service: string;
  serving: { version: string; instances: { address: string; state: string; pid: number }[] } | null;
  /** The previous version while blue-green keeps it warm: `baton rollback` is then one switch. */
  warm: {
    version: string;
    until: string;
    instances: { address: string; state: string; pid: number }[];
  } | null;
  release: Release | null;
  decisions: DecisionRecord[];
  /** What the release in flight waits for, in words (null when none is in flight or it is busy). */
  waiting: Waiting | null;
  /** Whether the audit log's hash chain verifies (checked at most once a minute). */
  auditChain: { ok: boolean; problem?: string; checkedAt: string };
}

/** One runner per strategy; each takes a recorded release from its stored status and step. */
const RUNNERS: Record<string, ReleaseRunner> = {
  initial: runInitialRelease,
  canary: runCanaryRelease,
  "blue-green": runBlueGreenRelease,
  rolling: runRollingRelease,
  rollback: runInstantRollback,
  immediate: runImmediateRelease,
};

/**
 * The control plane of one service: what serves now, the release in flight, and the calls the
 * API and the CLI make (deploy, status, promote, abort, rollback, history, logs, audit verify).
 */
export class ControlPlane {
  readonly store: ReleaseStore;
  readonly audit: AuditLog;
  readonly lifecycle: ReleaseLifecycle;
  private readonly provider: Provider;
  private serving: VersionSet | undefined;
  private readonly warm = new WarmVersion(() => void this.retireWarm());
  private readonly slot: ReleaseSlot;
  /** The warm version stopping in the background, if it is. */
  private retiring: Promise<void> | undefined;
  /** baton.yaml as last read (see `ControlPlaneOptions.readFile`). */
  private file: ServiceFile;
  private chain: Status["auditChain"] | undefined;
  /** The instances of the release taken over at recovery, as recorded. */
  private inFlightAddresses = new Set<string>();
  /** The version of the release in flight, if one is. */
  private releasing: string | undefined;

  constructor(private readonly opts: ControlPlaneOptions) {
    this.file = opts.file;
    this.store = new ReleaseStore(opts.db);
    this.audit = new AuditLog(opts.db);
    this.lifecycle = new ReleaseLifecycle(opts.db);
    this.slot = new ReleaseSlot(opts.file.service);
    this.provider = opts.file.provider === "static" ? new StaticProvider() : new LocalProvider(opts.dataDir);
  }

  get service(): string {
    return this.file.service;
  }

  /**
   * Whether @baton/runtime's metrics of `metric` for `service`/`version` are worth keeping: a
   * version this control plane runs now (serving, warm or being released) and a metric its
   * `analysis.metrics` names. What a client token can make it hold is then bounded by the file.
   */
  keepsMetric(service: string, version: string, metric: string): boolean {
    if (service !== this.file.service) return false;
    const live =
      version === this.serving?.version ||
      version === this.warm.current?.version ||
      version === this.releasing;
    return (
      live &&
      (metric === "" ||
        this.file.analysis.metrics.some((m) => m.name === metric && !("query" in m && m.query)))
    );
  }

  async init(): Promise<void> {
    await this.store.migrate();
    await this.audit.migrate();
  }

  /**
   * After a restart: adopts what serves (restarting instances that died meanwhile), the version
   * blue-green keeps warm, and the release left in flight, which its strategy's runner takes on
   * from its stored status and step. Then every process started for the service that none of
   * these owns (spawned but not yet recorded when the last control plane died) is stopped.
   */
  async recover(actor = "control-plane"): Promise<void> {
    const found = await findServing(this.store, this.provider, this.file);
    this.serving = found.serving;
    const active = await this.store.active(this.service);
    if (found.warm) this.warm.keep(found.warm);
    if (!active || !found.inFlight) {
      // The router may have restarted without its state: put back what serves (an equal table is a
      // no-op), with the warm version only while its warm period lasts.
      if (found.serving)
        await this.opts.router.putService(servingTable(this.file, found.serving, this.warm.current));
      await this.sweep();
      return;
    }
    this.log(`taking over release ${active.id} of ${active.version} (${active.strategy}, ${active.status})`);
    if (found.staleWarm) {
      // Kept warm by the release before; the one in flight replaced it (it was killed before
      // retiring it). At weight 0 it serves nothing new: it stops after the drain timeout.
      const stale = found.staleWarm;
      this.log(`stopping ${stale.version}, kept warm by the previous release and replaced since`);
      this.retiring = Promise.all(stale.instances.map((i) => i.stop(this.file.drain.timeout))).then(
        () => {},
        (err: Error) => this.log(`stopping ${stale.version}: ${err.message}`),
      );
    }
    const { stable, next } = found.inFlight;
    this.inFlightAddresses = new Set(active.instances.map((r) => r.address ?? `127.0.0.1:${r.port}`));
    const state: RunState = { promoted: false, finished: false };
    // The recorded instances are adopted before the sweep, which spares what is owned.
    void this.track(active, state, stable, next, actor);
    await this.sweep();
  }

  /**
   * Records a release and runs it in the background; returns it as recorded. The first deploy of
   * a service has nothing to compare with: its instances start health-gated and take all traffic
   * once ready.
   */
  deploy(req: DeployRequest): Promise<Release> {
    return this.slot.reserve(() => this.deployReserved(req));
  }

  private async deployReserved(req: DeployRequest): Promise<Release> {
    await this.reread();
    const next = await resolveVersion(this.store, this.file, req);
    // A rollback is checked on the readiness path its version was released with, not an edit's.
    if (req.rollbackOf)
      Object.assign(next, readinessOf(await this.store.latestOf(this.service, next.version)));
    const stable = this.serving ?? { version: "", instances: [] };
    const strategy = this.serving ? (req.strategy ?? this.file.strategy) : "initial";
    const settings = {
      ...releaseSettings(this.file, strategy),
      ...(next.readinessPath ? { readiness: next.readinessPath } : {}),
    };
    const release = await this.lifecycle.create(
      {
        service: this.service,
        version: next.version,
        previousVersion: stable.version || null,
        strategy,
        previousInstances: stable.instances.map((i) => i.record),
        dir: next.cwd,
        env: next.env ?? {},
        rollbackOf: req.rollbackOf ?? null,
        settings,
      },
      req.actor,
      {
        ...(await startedDetails(next)),
        settings,
        ...(req.rollbackOf ? { rollbackOf: req.rollbackOf } : {}),
      },
    );
    // A new release replaces the warm version: it leaves the router now and stops after its drain.
    await this.retireWarm();
    void this.track(release, { promoted: false, finished: false }, stable, next, req.actor);
    return release;
  }

  /**
   * Back to the previous release: one switch while it is still warm (every strategy keeps it for
   * keepPreviousFor), otherwise a release of the previous version from where it was last
   * released, all at once and health-gated (or by `req.strategy`).
   */
  rollback(req: RollbackRequest | string): Promise<Release> {
    const r = typeof req === "string" ? { actor: req } : req;
    return this.slot.reserve(() => this.rollbackReserved(r));
  }

  private async rollbackReserved({ actor, strategy }: RollbackRequest): Promise<Release> {
    await this.reread();
    const serving = this.serving;
    if (!serving)
      throw new BatonControlError("BATON_NOTHING_TO_ROLL_BACK", `${this.service} serves nothing yet`);
    const warm = this.warm.current;
    // One switch only if the router itself sees every warm instance ready (the previous track).
    const view = warm ? await this.opts.router.service(this.service).catch(() => undefined) : undefined;
    const readyInRouter = view?.tracks.find(
      (t) => t.name === "previous" && t.version === warm?.version,
    )?.ready;
    if (warm && readyInRouter === warm.instances.length) {
      const next = { version: warm.version, cwd: warm.source.dir ?? "", env: warm.source.env };
      // Created with the warm set's instances: a crash from here on resumes the switch.
      const release = await this.lifecycle.create(
        {
          service: this.service,
          version: warm.version,
          previousVersion: serving.version,
          strategy: "rollback",
          previousInstances: serving.instances.map((i) => i.record),
          instances: warm.instances.map((i) => i.record),
          dir: warm.source.dir,
          env: warm.source.env,
          rollbackOf: serving.version,
          settings: { strategy: "rollback", switch: "one swap to the warm instances" },
        },
        actor,
        { dir: next.cwd, rollbackOf: serving.version },
      );
      this.warm.take();
      void this.track(release, { promoted: false, finished: false }, serving, next, actor);
      return release;
    }
    const [current] = (await this.store.history(this.service, 50)).filter((r) => r.status === "succeeded");
    const previous = current?.previousVersion;
    if (!previous || previous === serving.version)
      throw new BatonControlError(
        "BATON_NOTHING_TO_ROLL_BACK",
        `no earlier version of ${this.service} to roll back to (serving ${serving.version})`,
      );
    return this.deployReserved({
      version: previous,
      actor,
      strategy: strategy ?? "immediate",
      rollbackOf: serving.version,
    });
  }

  /** Reads baton.yaml again, if it can be; refuses a change the running control plane cannot take. */
  private async reread(): Promise<void> {
    if (!this.opts.readFile) return;
    let next: ServiceFile;
    let timer: NodeJS.Timeout | undefined;
    try {
      // Bounded: a read that never ends (a FIFO) must not hold the deploy slot forever.
      next = await Promise.race([
        this.opts.readFile(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("reading baton.yaml took over 10s")), 10_000);
        }),
      ]);
    } catch (err) {
      throw new BatonControlError("BATON_BAD_SERVICE_FILE", (err as Error).message);
    } finally {
      clearTimeout(timer);
    }
    // What the running router and control plane were started with cannot change under them.
    const fixed = (f: ServiceFile) => ({
      service: f.service,
      listen: f.listen,
      provider: f.provider,
      trustedProxies: f.trustedProxies.join(", ") || "none",
    });
    const was = fixed(this.file);
    const now = fixed(next);
    for (const key of Object.keys(was) as (keyof typeof was)[])
      if (now[key] !== was[key])
        throw new BatonControlError(
          "BATON_SERVICE_FILE_CHANGED",
          `baton.yaml changed ${key} from ${String(was[key])} to ${String(now[key])}; restart baton up to take it`,
        );
    this.file = next;
  }

  /** Resolves when no release is in flight here (one taken over at recovery included). */
  settled(): Promise<void> {
    return this.slot.settled();
  }

  /** Waits for the release in flight (if it is `id`) to end, and returns it as stored. */
  async wait(id: number): Promise<Release> {
    await this.slot.settled(id);
    const r = await this.store.get(id);
    if (!r) throw new BatonControlError("BATON_UNKNOWN_RELEASE", `no release ${id}`);
    return r;
  }

  promote(): void {
    this.slot.promote();
  }

  abort(actor: string): void {
    this.slot.abort(`aborted by ${actor}`);
  }

  async status(): Promise<Status> {
    const [latest] = await this.store.history(this.service, 1);
    const warm = this.warm.current;
    return {
      service: this.service,
      serving: this.serving
        ? {
            version: this.serving.version,
            instances: this.serving.instances.map((i) => ({
              address: i.address,
              state: i.state,
              pid: i.pid,
            })),
          }
        : null,
      warm: warm
        ? {
            version: warm.version,
            until: new Date(warm.until).toISOString(),
            instances: warm.instances.map((i) => ({ address: i.address, state: i.state, pid: i.pid })),
          }
        : null,
      release: latest ?? null,
      decisions: latest ? await this.store.decisions(latest.id) : [],
      waiting: this.slot.waiting ?? null,
      auditChain: await this.auditChain(),
    };
  }

  /** The audit chain's state, verified at most once a minute (it reads the whole log). */
  async auditChain(): Promise<Status["auditChain"]> {
    if (this.chain && Date.now() - Date.parse(this.chain.checkedAt) < 60_000) return this.chain;
    const { problems } = await this.audit.verify();
    const first = problems[0];
    this.chain = {
      ok: problems.length === 0,
      ...(first
        ? {
            problem: `event ${first.seq}: ${first.problem}: ${first.detail}${problems.length > 1 ? ` (and ${problems.length - 1} more; run baton audit verify)` : ""}`,
          }
        : {}),
      checkedAt: new Date().toISOString(),
    };
    return this.chain;
  }

  history(limit = 20): Promise<Release[]> {
    return this.store.history(this.service, limit);
  }

  /** The last `lines` lines of each instance's log (of one version, or of all). */
  logs(version?: string, lines = 50): Promise<LogTail[]> {
    return instanceLogs(this.opts.dataDir, this.service, version, lines);
  }

  /**
   * Stops every instance this control plane runs (`baton down`, tests and `baton demo`), and any
   * other process ever started for the service from this data directory.
   */
  async stopAll(): Promise<void> {
    await this.slot.shutDown();
    const warm = this.warm.take();
    await this.retiring;
    const all = [...(this.serving?.instances ?? []), ...(warm?.instances ?? [])];
    await Promise.all(all.map((i) => i.stop(this.file.drain.timeout)));
    await this.provider.sweep?.(this.service, { spareOwned: false, graceMs: this.file.drain.timeout });
  }

  /**
   * Stops the timers of this control plane and leaves every instance running (`baton up` exiting);
   * resolves once a warm version already retiring has stopped, so none is left behind unrecorded.
   */
  async detach(): Promise<void> {
    this.warm.detach();
    await this.retiring;
  }

  /**
   * Stops what was started for the service and is owned by nothing here (see `recover`). What the
   * router routes to is never an orphan (instances are recorded before the router hears of them):
   * it is spared, so a state database that does not know the running release (another one, a
   * restored one) never takes a serving instance down. Without the router's table, nothing is.
   */
  private async sweep(): Promise<void> {
    const view = await this.opts.router.service(this.service).catch((err: Error) => err);
    if (view instanceof Error && !/HTTP 404/.test(view.message)) {
      this.log(`not looking for orphaned instances: ${view.message}`);
      return;
    }
    const routed =
      view instanceof Error ? [] : [...view.tracks.flatMap((t) => t.instances), ...view.draining];
    const sparePorts = new Set(routed.map((i) => Number(i.address.split(":").at(-1))));
    const stopped =
      (await this.provider.sweep?.(this.service, {
        spareOwned: true,
        graceMs: this.file.drain.timeout,
        sparePorts,
      })) ?? [];
    const unknown = routed.filter((i) => !this.owns(i.address));
    if (unknown.length > 0)
      this.log(
        `the router routes ${this.service} to ${unknown.map((i) => i.address).join(", ")}, which this state database does not know: left as they are`,
      );
    if (stopped.length === 0) return;
    this.log(`stopped ${stopped.length} instance process(es) no release owns: pid ${stopped.join(", ")}`);
    await this.audit
      .append({
        actor: "control-plane",
        action: "instances.orphans-stopped",
        service: this.service,
        details: { pids: stopped },
      })
      .catch(() => {});
  }

  /** Whether an instance at `address` is one this control plane serves, keeps warm or releases. */
  private owns(address: string): boolean {
    const sets = [this.serving, this.warm.current].flatMap((s) => s?.instances ?? []);
    return sets.some((i) => i.address === address) || this.inFlightAddresses.has(address);
  }

  /** The environment the serving version was released with (its migration's database, say). */
  private async envOf(version: string): Promise<Record<string, string>> {
    return (await this.store.latestOf(this.service, version).catch(() => undefined))?.env ?? {};
  }

  /** `releaseId`: the release whose timeline keeps what this context says (see releaseJournal). */
  private context(
    actor: string,
    state: RunState,
    stable: VersionSet,
    env: Record<string, string> = {},
    releaseId?: number,
  ): ReleaseContext {
    const { migration } = this.file;
    const log =
      releaseId === undefined ? this.opts.log : releaseJournal(this.store, releaseId, this.opts.log);
    return {
      ...(migration
        ? {
            migration: releaseMigration(migration, env, log, undefined, async (action, details) => {
              await this.audit.append({
                actor,
                action,
                service: this.service,
                ...(releaseId !== undefined ? { details: { releaseId, ...details } } : { details }),
              });
            }),
          }
        : {}),
      file: this.file,
      router: this.opts.router,
      routerUrl: this.opts.routerUrl,
      provider: this.provider,
      store: this.store,
      audit: this.audit,
      lifecycle: this.lifecycle,
      actor,
      stable,
      pollMs: 500,
      promoted: () => {
        const asked = state.promoted;
        state.promoted = false;
        return asked;
      },
      aborted: () => state.aborted,
      report: (waiting) => {
        state.waiting = waiting;
      },
      log,
      ...(this.opts.appMetrics ? { appMetrics: this.opts.appMetrics } : {}),
    };
  }

  /**
   * Runs a recorded release in the background, from its stored status and step, through outages
   * of the database or the router (see `runUntilSettled`). Serving is updated before the release
   * counts as finished, so a deploy right after sees it.
   */
  private track(
    release: Release,
    state: RunState,
    stable: VersionSet,
    next: NextVersion,
    actor = "control-plane",
  ): Promise<ReleaseOutcome> {
    const run = RUNNERS[release.strategy];
    if (!run)
      throw new BatonControlError(
        "BATON_UNKNOWN_STRATEGY",
        `release ${release.id}: no runner for ${release.strategy}`,
      );
    const ctx = this.context(actor, state, stable, next.env ?? release.env, release.id);
    this.releasing = release.version;
    const attempt = async (r: Release): Promise<ReleaseOutcome> =>
      inFlight(r.status) ? run(ctx, r, next) : { release: r, serving: this.serving ?? stable };
    const done = runUntilSettled({
      release,
      state,
      attempt,
      load: (id) => this.store.get(id),
      retreat: async () => {
        await this.opts.router.putService(servingTable(this.file, stable));
      },
      log: (line) => (ctx.log ?? this.log.bind(this))(line),
    })
      .catch((err: unknown) => settleAfterError(ctx, release, next, run, err as Error))
      .then(async (out) => {
        // Serving is updated before the slot frees, so a deploy right after sees it.
        this.serving = out.serving.instances.length > 0 ? out.serving : this.serving;
        if (out.previous) {
          const source = await this.store.latestOf(this.service, out.previous.version);
          this.warm.keep({
            ...out.previous,
            source: { dir: source?.dir ?? null, env: source?.env ?? {} },
            until: Date.now() + keepPreviousOf(this.file, out.release.strategy),
          });
        }
        return out;
      });
    done
      .catch((err: unknown) => this.log(`release failed unexpectedly: ${(err as Error).message}`))
      .finally(() => {
        if (this.releasing === release.version) this.releasing = undefined;
      });
    return this.slot.hold(release.id, state, done);
  }

  /** The warm version leaves the router table at once, then stops after its drain. */
  private async retireWarm(): Promise<void> {
    const serving = this.serving;
    const warm = serving ? this.warm.take() : undefined;
    if (!warm || !serving) return;
    const ctx = this.context(
      "control-plane",
      { promoted: false, finished: false },
      serving,
      await this.envOf(serving.version),
    );
    try {
      const { stopped } = await retirePrevious(ctx, serving, warm);
      this.retiring = stopped.catch((err: unknown) =>
        this.log(`stopping ${warm.version}: ${(err as Error).message}`),
      );
    } catch (err) {
      this.log(`retiring ${warm.version} failed: ${(err as Error).message}`);
    }
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }
}
