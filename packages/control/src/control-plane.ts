import { AuditLog } from "./audit/audit-log.js";
import { BatonControlError, ReleaseInProgressError } from "./errors.js";
import { LocalProvider } from "./providers/local-provider.js";
import type { Provider } from "./providers/provider.js";
import { StaticProvider } from "./providers/static-provider.js";
import { retirePrevious, runBlueGreenRelease } from "./release/blue-green-release.js";
import { runCanaryRelease } from "./release/canary-release.js";
import { runInitialRelease } from "./release/initial-release.js";
import { runInstantRollback } from "./release/instant-rollback.js";
import { releaseMigration } from "./release/release-migration.js";
import {
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  routerService,
} from "./release/release-steps.js";
import { resumeRelease } from "./release/resume-release.js";
import { runRollingRelease } from "./release/rolling-release.js";
import { instanceLogs, type LogTail } from "./release-logs.js";
import { findServing, type VersionSet, versionOf } from "./release-recovery.js";
import type { RouterAdmin } from "./router-admin.js";
import type { ServiceFile } from "./service-file.js";
import { type DecisionRecord, type Release, ReleaseStore } from "./state/release-store.js";
import type { SqlClient } from "./state/sql-client.js";

export interface ControlPlaneOptions {
  file: ServiceFile;
  db: SqlClient;
  router: RouterAdmin;
  routerUrl: string;
  /** Where instance logs go. */
  dataDir: string;
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
  strategy?: ServiceFile["strategy"];
  actor: string;
}

export interface Status {
  service: string;
  serving: { version: string; instances: { address: string; state: string; pid: number }[] } | null;
  /** The previous version while blue-green keeps it warm: `baton rollback` is then one switch. */
  warm: { version: string; until: string } | null;
  release: Release | null;
  decisions: DecisionRecord[];
}

interface RunState {
  promoted: boolean;
  aborted?: string;
  finished: boolean;
}

interface Warm extends VersionSet {
  until: number;
  timer: NodeJS.Timeout;
  source: { dir: string | null; env: Record<string, string> };
}

const RUNNERS = { canary: runCanaryRelease, "blue-green": runBlueGreenRelease, rolling: runRollingRelease };
/** setTimeout's ceiling (about 24.8 days); longer warm periods are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The control plane of one service: what serves now, the release in flight, and the calls the
 * API and the CLI make (deploy, status, promote, abort, rollback, history, logs, audit verify).
 */
export class ControlPlane {
  readonly store: ReleaseStore;
  readonly audit: AuditLog;
  private readonly provider: Provider;
  private serving: VersionSet | undefined;
  private warm: Warm | undefined;
  private running: { id: number; done: Promise<ReleaseOutcome>; state: RunState } | undefined;
  /** A deploy or rollback is being prepared (not yet tracked). */
  private reserved = false;
  /** The warm version stopping in the background, if it is. */
  private retiring: Promise<void> | undefined;

  constructor(private readonly opts: ControlPlaneOptions) {
    this.store = new ReleaseStore(opts.db);
    this.audit = new AuditLog(opts.db);
    this.provider = opts.file.provider === "static" ? new StaticProvider() : new LocalProvider(opts.dataDir);
  }

  get service(): string {
    return this.opts.file.service;
  }

  async init(): Promise<void> {
    await this.store.migrate();
    await this.audit.migrate();
  }

  /**
   * After a restart: adopts what serves (restarting instances that died meanwhile), the version
   * blue-green keeps warm, and takes over a release left in flight. Safe to run again.
   */
  async recover(actor = "control-plane"): Promise<void> {
    const found = await findServing(this.store, this.provider, this.opts.file);
    this.serving = found.serving;
    const active = await this.store.active(this.service);
    if (!active || !found.inFlight) {
      // The router may have restarted without its state: put back what serves (an equal table is a
      // no-op). Before the warm period is re-armed, so an expired one cannot be put back after it.
      if (found.serving) await this.opts.router.putService(this.table(found.serving, found.warm));
      if (found.warm) this.keepWarm(found.warm, found.warm.until);
      return;
    }
    if (found.warm) this.keepWarm(found.warm, found.warm.until);
    this.log(`taking over release ${active.id} of ${active.version} (${active.strategy}, ${active.status})`);
    const { stable, next } = found.inFlight;
    const state: RunState = { promoted: false, finished: false };
    const ctx = this.context(actor, state, stable, active.env);
    this.track(active.id, state, resumeRelease(ctx, active, next));
  }

  /**
   * Starts a release and returns it as soon as it is recorded; it then runs in the background.
   * The first deploy of a service has nothing to compare with: its instances start health-gated
   * and take all traffic once ready.
   */
  async deploy(req: DeployRequest): Promise<Release> {
    this.refuseWhileRunning();
    this.reserved = true; // until the release is tracked: a second call meanwhile is refused
    try {
      return await this.deployReserved(req);
    } finally {
      this.reserved = false;
    }
  }

  private async deployReserved(req: DeployRequest): Promise<Release> {
    const next = await this.resolve(req);
    const strategy = req.strategy ?? this.opts.file.strategy;
    const state: RunState = { promoted: false, finished: false };
    if (!this.serving) {
      const ctx = this.context(req.actor, state, { version: "", instances: [] }, next.env);
      return this.start(next.version, state, runInitialRelease(ctx, next));
    }
    // A new release replaces the warm version: it leaves the router now and stops after its drain.
    await this.retireWarm();
    const ctx = this.context(req.actor, state, this.serving, next.env);
    return this.start(next.version, state, RUNNERS[strategy](ctx, next));
  }

  /**
   * Back to the previous release: one switch while blue-green keeps it warm, otherwise a release
   * of the previous version from where it was last released, by the service's strategy.
   */
  async rollback(actor: string): Promise<Release> {
    this.refuseWhileRunning();
    this.reserved = true;
    try {
      return await this.rollbackReserved(actor);
    } finally {
      this.reserved = false;
    }
  }

  private async rollbackReserved(actor: string): Promise<Release> {
    const serving = this.serving;
    if (!serving)
      throw new BatonControlError("BATON_NOTHING_TO_ROLL_BACK", `${this.service} serves nothing yet`);
    const warm = this.warm;
    // One switch only if the router itself sees every warm instance ready (the previous track).
    const view = warm ? await this.opts.router.service(this.service).catch(() => undefined) : undefined;
    const readyInRouter = view?.tracks.find(
      (t) => t.name === "previous" && t.version === warm?.version,
    )?.ready;
    if (warm && readyInRouter === warm.instances.length) {
      clearTimeout(warm.timer);
      this.warm = undefined;
      const state: RunState = { promoted: false, finished: false };
      return this.start(
        warm.version,
        state,
        runInstantRollback(
          this.context(actor, state, serving, await this.envOf(serving.version)),
          warm,
          warm.source,
        ),
      );
    }
    const [current] = (await this.store.history(this.service, 50)).filter((r) => r.status === "succeeded");
    const previous = current?.previousVersion;
    if (!previous || previous === serving.version)
      throw new BatonControlError(
        "BATON_NOTHING_TO_ROLL_BACK",
        `no earlier version of ${this.service} to roll back to (serving ${serving.version})`,
      );
    return this.deployReserved({ version: previous, actor });
  }

  /** Resolves when no release is in flight here (one taken over at recovery included). */
  async settled(): Promise<void> {
    await this.running?.done.catch(() => {});
  }

  /** Waits for the release in flight (if it is `id`) to end, and returns it as stored. */
  async wait(id: number): Promise<Release> {
    if (this.running?.id === id) await this.running.done.catch(() => {});
    const r = await this.store.get(id);
    if (!r) throw new BatonControlError("BATON_UNKNOWN_RELEASE", `no release ${id}`);
    return r;
  }

  promote(): void {
    this.runningState().promoted = true;
  }

  abort(actor: string): void {
    this.runningState().aborted = `aborted by ${actor}`;
  }

  async status(): Promise<Status> {
    const [latest] = await this.store.history(this.service, 1);
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
      warm: this.warm ? { version: this.warm.version, until: new Date(this.warm.until).toISOString() } : null,
      release: latest ?? null,
      decisions: latest ? await this.store.decisions(latest.id) : [],
    };
  }

  history(limit = 20): Promise<Release[]> {
    return this.store.history(this.service, limit);
  }

  /** The last `lines` lines of each instance's log (of one version, or of all). */
  logs(version?: string, lines = 50): Promise<LogTail[]> {
    return instanceLogs(this.opts.dataDir, this.service, version, lines);
  }

  /** Stops every instance this control plane runs (`baton down`, tests and `baton demo`). */
  async stopAll(): Promise<void> {
    if (this.running) this.running.state.aborted ??= "the control plane is shutting down";
    await this.running?.done.catch(() => {});
    const warm = this.warm;
    if (warm) clearTimeout(warm.timer);
    this.warm = undefined;
    await this.retiring;
    const all = [...(this.serving?.instances ?? []), ...(warm?.instances ?? [])];
    await Promise.all(all.map((i) => i.stop(this.opts.file.drain.timeout)));
  }

  /**
   * Stops the timers of this control plane and leaves every instance running (`baton up` exiting);
   * resolves once a warm version already retiring has stopped, so none is left behind unrecorded.
   */
  async detach(): Promise<void> {
    if (this.warm) clearTimeout(this.warm.timer);
    await this.retiring;
  }

  private async resolve(req: DeployRequest): Promise<NextVersion> {
    if (this.opts.file.provider === "static") return this.resolveStatic(req);
    if (req.cwd) {
      const version = req.version ?? (await versionOf(req.cwd));
      return { version, cwd: req.cwd, env: req.env ?? {} };
    }
    if (!req.version)
      throw new BatonControlError("BATON_BAD_REQUEST", "give the release's directory, a version, or both");
    const known = await this.store.latestOf(this.service, req.version);
    if (!known?.dir)
      throw new BatonControlError(
        "BATON_UNKNOWN_VERSION",
        `unknown version ${req.version} of ${this.service}: it was never released; give its directory (--dir)`,
      );
    return { version: req.version, cwd: known.dir, env: { ...known.env, ...req.env } };
  }

  private runningState(): RunState {
    if (!this.running)
      throw new BatonControlError("BATON_NO_RELEASE_RUNNING", `no release of ${this.service} is running`);
    return this.running.state;
  }

  private async resolveStatic(req: DeployRequest): Promise<NextVersion> {
    if (!req.version)
      throw new BatonControlError("BATON_BAD_REQUEST", "a release of static instances needs a version name");
    const known = await this.store.latestOf(this.service, req.version);
    const instances = req.instances?.length
      ? req.instances
      : known?.instances.map((r) => r.address ?? `127.0.0.1:${r.port}`);
    if (!instances?.length)
      throw new BatonControlError(
        "BATON_UNKNOWN_VERSION",
        `unknown version ${req.version} of ${this.service}: give its instances' addresses (--instances host:port,...)`,
      );
    return { version: req.version, cwd: req.cwd ?? "", env: req.env ?? {}, instances };
  }

  private refuseWhileRunning(): void {
    if (this.running || this.reserved)
      throw new ReleaseInProgressError(
        this.service,
        this.running ? `release ${this.running.id} is still running` : "another deploy is starting",
      );
  }

  /** The environment the serving version was released with (its migration's database, say). */
  private async envOf(version: string): Promise<Record<string, string>> {
    return (await this.store.latestOf(this.service, version).catch(() => undefined))?.env ?? {};
  }

  private context(
    actor: string,
    state: RunState,
    stable: VersionSet,
    env: Record<string, string> = {},
  ): ReleaseContext {
    const { migration } = this.opts.file;
    return {
      ...(migration ? { migration: releaseMigration(migration, env, this.opts.log) } : {}),
      file: this.opts.file,
      router: this.opts.router,
      routerUrl: this.opts.routerUrl,
      provider: this.provider,
      store: this.store,
      audit: this.audit,
      actor,
      stable,
      pollMs: 500,
      promoted: () => state.promoted,
      aborted: () => state.aborted,
      log: this.opts.log,
    };
  }

  /** Runs a release in the background; returns its row once the runner has recorded it. */
  private async start(version: string, state: RunState, run: Promise<ReleaseOutcome>): Promise<Release> {
    const done = this.track(0, state, run);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (state.finished) return (await done).release;
      const active = await this.store.active(this.service);
      if (active && active.version === version) {
        if (!state.finished && this.running?.state === state) this.running.id = active.id;
        return active;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new BatonControlError("BATON_RELEASE_NOT_RECORDED", "the release was not recorded within 10s");
  }

  private track(id: number, state: RunState, run: Promise<ReleaseOutcome>): Promise<ReleaseOutcome> {
    // Serving is updated before the release counts as finished, so a deploy right after sees it.
    const done = run
      .then(async (out) => {
        this.serving = out.serving.instances.length > 0 ? out.serving : this.serving;
        if (out.previous) {
          const source = await this.store.latestOf(this.service, out.previous.version);
          this.keepWarm(
            { ...out.previous, source: { dir: source?.dir ?? null, env: source?.env ?? {} } },
            Date.now() + this.opts.file.blueGreen.keepOldFor,
          );
        }
        return out;
      })
      .catch((err: unknown) => this.reconcile(err as Error, state))
      .finally(() => {
        state.finished = true;
        if (this.running?.state === state) this.running = undefined;
      });
    done.catch((err: unknown) => this.log(`release failed unexpectedly: ${(err as Error).message}`));
    this.running = { id, done, state };
    return done;
  }

  /**
   * A release stopped by an error (the router or the database unreachable a moment, say) must not
   * stay in flight for ever: it is taken over as after a restart, rolling back (a canary resumes);
   * if that fails too it is marked failed, so that the next deploy is not refused. The next
   * `baton up` reconciles what the instances and the router really are.
   */
  private async reconcile(err: Error, state: RunState): Promise<ReleaseOutcome> {
    this.log(`release stopped by an error: ${err.message}; reconciling from the stored state`);
    const active = await this.store.active(this.service);
    if (!active) throw err;
    const reason = `stopped by an error: ${err.message}`;
    try {
      const found = await findServing(this.store, this.provider, this.opts.file);
      if (!found.inFlight) throw err;
      const rolling = await this.store.update(active.id, { status: "rolling-back", reason });
      const ctx = this.context("control-plane", state, found.inFlight.stable, active.env);
      return await resumeRelease(ctx, rolling, found.inFlight.next);
    } catch (again) {
      const failed = await this.store.update(active.id, {
        status: "failed",
        reason: `${reason}; the rollback failed too (${(again as Error).message}); restart baton up to reconcile`,
      });
      return { release: failed, serving: this.serving ?? { version: "", instances: [] } };
    }
  }

  private keepWarm(set: VersionSet & { source: Warm["source"] }, until: number): void {
    const arm = (): NodeJS.Timeout =>
      setTimeout(
        () => {
          if (this.warm?.timer !== timer) return;
          if (Date.now() < until) {
            timer = arm();
            timer.unref();
            this.warm.timer = timer;
            return;
          }
          void this.retireWarm();
        },
        Math.max(0, Math.min(until - Date.now(), MAX_TIMER_MS)),
      );
    let timer = arm();
    timer.unref();
    this.warm = { ...set, until, timer };
  }

  /** The warm version leaves the router table at once, then stops after its drain. */
  private async retireWarm(): Promise<void> {
    const warm = this.warm;
    const serving = this.serving;
    if (!warm || !serving) return;
    clearTimeout(warm.timer);
    this.warm = undefined;
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

  private table(serving: VersionSet, warm?: VersionSet) {
    return routerService(this.opts.file, {
      stable: {
        version: serving.version,
        weight: 10_000,
        instances: serving.instances.map((i) => i.address),
      },
      ...(warm
        ? { previous: { version: warm.version, weight: 0, instances: warm.instances.map((i) => i.address) } }
        : {}),
    });
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }
}
