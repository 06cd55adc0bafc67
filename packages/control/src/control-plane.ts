import { AuditLog } from "./audit/audit-log.js";
import { BatonControlError, ReleaseInProgressError } from "./errors.js";
import type { LocalInstance } from "./providers/local-instance.js";
import { LocalProvider } from "./providers/local-provider.js";
import { runBlueGreenRelease } from "./release/blue-green-release.js";
import { runCanaryRelease } from "./release/canary-release.js";
import {
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  routerService,
} from "./release/release-steps.js";
import { runRollingRelease } from "./release/rolling-release.js";
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

export interface DeployRequest extends NextVersion {
  strategy?: ServiceFile["strategy"];
  actor: string;
}

export interface Status {
  service: string;
  serving: { version: string; instances: { address: string; state: string; pid: number }[] } | null;
  release: Release | null;
  decisions: DecisionRecord[];
}

interface RunState {
  promoted: boolean;
  aborted?: string;
  finished: boolean;
}

const RUNNERS = { canary: runCanaryRelease, "blue-green": runBlueGreenRelease, rolling: runRollingRelease };

/**
 * The control plane of one service: what serves now, the release in flight, and the calls the
 * API and the CLI make (deploy, status, promote, abort, history, audit verify).
 */
export class ControlPlane {
  readonly store: ReleaseStore;
  readonly audit: AuditLog;
  private readonly provider: LocalProvider;
  private serving: { version: string; instances: LocalInstance[] } | undefined;
  private running: { id: number; done: Promise<ReleaseOutcome>; state: RunState } | undefined;

  constructor(private readonly opts: ControlPlaneOptions) {
    this.store = new ReleaseStore(opts.db);
    this.audit = new AuditLog(opts.db);
    this.provider = new LocalProvider(opts.dataDir);
  }

  async init(): Promise<void> {
    await this.store.migrate();
    await this.audit.migrate();
  }

  /**
   * Starts a release and returns it as soon as it is recorded; it then runs in the background.
   * The first deploy of a service has nothing to compare with: its instances start health-gated
   * and take all traffic once ready.
   */
  async deploy(req: DeployRequest): Promise<Release> {
    if (this.running) {
      throw new ReleaseInProgressError(this.opts.file.service, `release ${this.running.id} is still running`);
    }
    const strategy = req.strategy ?? this.opts.file.strategy;
    if (!this.serving) return this.firstDeploy(req);
    const runner = RUNNERS[strategy];
    const state: RunState = { promoted: false, finished: false };
    const ctx: ReleaseContext = {
      file: this.opts.file,
      router: this.opts.router,
      routerUrl: this.opts.routerUrl,
      provider: this.provider,
      store: this.store,
      audit: this.audit,
      actor: req.actor,
      stable: this.serving,
      pollMs: 500,
      promoted: () => state.promoted,
      aborted: () => state.aborted,
      log: this.opts.log,
    };
    // Serving is updated before the release counts as finished, so a deploy right after sees it.
    const done = runner(ctx, req)
      .then((out) => {
        this.serving = out.serving;
        return out;
      })
      .finally(() => {
        state.finished = true;
        if (this.running?.state === state) this.running = undefined;
      });
    done.catch((err: unknown) => this.opts.log?.(`release failed unexpectedly: ${(err as Error).message}`));
    // The runner records the release before anything else; return that row once it exists.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (state.finished) return (await done).release;
      const active = await this.store.active(this.opts.file.service);
      if (active && active.version === req.version) {
        if (!state.finished) this.running = { id: active.id, done, state };
        return active;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new BatonControlError("BATON_RELEASE_NOT_RECORDED", "the release was not recorded within 10s");
  }

  private async firstDeploy(req: DeployRequest): Promise<Release> {
    const { file } = this.opts;
    const release = await this.store.create({
      service: file.service,
      version: req.version,
      previousVersion: null,
      strategy: "initial",
      previousInstances: [],
      dir: req.cwd,
      env: req.env ?? {},
    });
    await this.audit.append({
      actor: req.actor,
      action: "release.started",
      service: file.service,
      version: req.version,
      strategy: "initial",
      details: { releaseId: release.id },
    });
    try {
      const instances = await this.provider.startVersion({
        service: file.service,
        version: req.version,
        run: file.run,
        cwd: req.cwd,
        count: file.instances,
        readinessPath: file.health.readiness,
        startTimeout: file.health.startTimeout,
        env: req.env ?? {},
      });
      await this.opts.router.putService(
        routerService(file, {
          stable: { version: req.version, weight: 10_000, instances: instances.map((i) => i.address) },
        }),
      );
      this.serving = { version: req.version, instances };
      await this.audit.append({
        actor: req.actor,
        action: "release.succeeded",
        service: file.service,
        version: req.version,
        strategy: "initial",
        details: { releaseId: release.id },
      });
      return this.store.update(release.id, {
        status: "succeeded",
        instances: instances.map((i) => i.record),
      });
    } catch (err) {
      await this.audit.append({
        actor: req.actor,
        action: "release.failed",
        service: file.service,
        version: req.version,
        strategy: "initial",
        details: { releaseId: release.id, reason: (err as Error).message },
      });
      return this.store.update(release.id, { status: "failed", reason: (err as Error).message });
    }
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

  private runningState(): RunState {
    if (!this.running)
      throw new BatonControlError(
        "BATON_NO_RELEASE_RUNNING",
        `no release of ${this.opts.file.service} is running`,
      );
    return this.running.state;
  }

  async status(): Promise<Status> {
    const [latest] = await this.store.history(this.opts.file.service, 1);
    return {
      service: this.opts.file.service,
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
      release: latest ?? null,
      decisions: latest ? await this.store.decisions(latest.id) : [],
    };
  }

  history(limit = 20): Promise<Release[]> {
    return this.store.history(this.opts.file.service, limit);
  }

  /** Stops every instance this control plane runs (tests and `baton demo`; `baton up` leaves them). */
  async stopAll(): Promise<void> {
    await this.running?.done.catch(() => {});
    await Promise.all((this.serving?.instances ?? []).map((i) => i.stop(this.opts.file.drain.timeout)));
  }
}
