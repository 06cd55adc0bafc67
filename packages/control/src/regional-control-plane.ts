import { analyzeCanary } from "./analysis/canary-analysis.js";
import { AuditLog } from "./audit/audit-log.js";
import { ControlPlane, type DeployRequest, type RollbackRequest, type Status } from "./control-plane.js";
import { BatonControlError, ReleaseInProgressError } from "./errors.js";
import { LookRecorder } from "./release/look-recorder.js";
import { inFlight, ReleaseLifecycle } from "./release/release-lifecycle.js";
import { sampleOf, sleep } from "./release/release-steps.js";
import type { LogTail } from "./release-logs.js";
import { versionOf } from "./release-recovery.js";
import { type RouterAdmin, RouterAdminError } from "./router-admin.js";
import type { ServiceFile } from "./service-file.js";
import { type Release, ReleaseStore } from "./state/release-store.js";
import type { SqlClient } from "./state/sql-client.js";

export interface RegionTarget {
  name: string;
  router: RouterAdmin;
  /** The region router's public URL, for blue-green preview checks. */
  routerUrl?: string;
  /** How long the new version serves the region, under analysis, before the next one. */
  bake: number;
}

export interface RegionalOptions {
  file: ServiceFile;
  db: SqlClient;
  regions: RegionTarget[];
  dataDir: string;
  log?: (line: string) => void;
}

export interface RegionalStatus {
  service: string;
  /** The latest wave: a release of the version across every region. */
  release: Release | null;
  decisions: Awaited<ReturnType<ReleaseStore["decisions"]>>;
  regions: (Status & { region: string })[];
}

interface Wave {
  id: number;
  done: Promise<Release>;
  aborted?: string;
  /** Who stopped the wave (an operator's abort, or the shutdown), for the region's release it stops. */
  abortedBy?: string;
  region?: ControlPlane;
}

/**
 * Release waves: a version goes region by region, each with its own router and instances and
 * the service's strategy. After a region's release succeeds it bakes: the new version there is
 * compared with the old one still serving the next region. A failure anywhere stops the wave and
 * rolls back the regions already done, newest first. The wave is a release row of its own
 * (strategy `waves`); each region's release is recorded under `<service>.<region>`.
 */
export class RegionalControlPlane {
  readonly store: ReleaseStore;
  readonly audit: AuditLog;
  private readonly lifecycle: ReleaseLifecycle;
  private readonly planes: { target: RegionTarget; plane: ControlPlane }[];
  private wave: Wave | undefined;
  private tableWatch: NodeJS.Timeout | undefined;
  private restoring = false;

  constructor(private readonly opts: RegionalOptions) {
    this.store = new ReleaseStore(opts.db);
    this.audit = new AuditLog(opts.db);
    this.lifecycle = new ReleaseLifecycle(opts.db);
    this.planes = opts.regions.map((target) => ({
      target,
      plane: new ControlPlane({
        file: { ...opts.file, service: `${opts.file.service}.${target.name}` },
        db: opts.db,
        router: target.router,
        routerUrl: target.routerUrl ?? "",
        dataDir: opts.dataDir,
        log: (line) => opts.log?.(`[${target.name}] ${line}`),
      }),
    }));
  }

  get service(): string {
    return this.opts.file.service;
  }

  async init(): Promise<void> {
    await this.store.migrate();
    await this.audit.migrate();
  }

  /**
   * Each region adopts what serves it and takes over its own release in flight. A wave a killed
   * control plane left in flight is not continued: the regions it had done are rolled back (the
   * version was not yet proven everywhere), and the wave is marked rolled back with that reason.
   */
  async recover(actor = "control-plane"): Promise<void> {
    for (const { plane } of this.planes) await plane.recover(actor);
    this.watchRouterTables();
    const active = await this.store.active(this.service);
    if (!active) return;
    const reason = "the control plane restarted during the wave; the regions it had done were rolled back";
    this.opts.log?.(
      `wave ${active.id} of ${active.version} was in flight: rolling back the regions it had done`,
    );
    this.track(active, async () => {
      // A region's own release, taken over above, ends first (it resumes or rolls back itself).
      for (const { plane } of this.planes) await plane.settled();
      await this.lifecycle.transition(active, { to: "rolling-back", actor, reason });
      const failed = await this.rollBackRegions(active, this.planes.length - 1, actor);
      return this.finish(active, failed ? "failed" : "rolled-back", failed ?? reason, actor);
    });
  }

  async deploy(req: DeployRequest): Promise<Release> {
    if (this.wave) throw new ReleaseInProgressError(this.service, `wave ${this.wave.id} is still running`);
    if (!req.version && !req.cwd)
      throw new BatonControlError("BATON_BAD_REQUEST", "give the release's directory, a version, or both");
    const version = req.version ?? (await versionOf(req.cwd!));
    const previous = (await this.store.history(this.service, 20)).find((r) => r.status === "succeeded");
    const wave = await this.lifecycle.create(
      {
        service: this.service,
        version,
        previousVersion: previous?.version ?? null,
        strategy: "waves",
        previousInstances: [],
        ...(req.cwd ? { dir: req.cwd } : {}),
        env: req.env ?? {},
      },
      req.actor,
      { regions: this.planes.map((p) => p.target.name) },
    );
    const progressing = await this.lifecycle.transition(wave, {
      to: "progressing",
      actor: req.actor,
      patch: { stepStarted: true },
    });
    this.track(progressing, () => this.run(progressing, { ...req, version }));
    return progressing;
  }

  private async run(wave: Release, req: DeployRequest): Promise<Release> {
    const say = this.opts.log ?? (() => {});
    for (let i = 0; i < this.planes.length; i++) {
      const { target, plane } = this.planes[i]!;
      const current = this.wave!;
      if (current.aborted) return this.stop(wave, i - 1, current.aborted, req.actor);
      await this.lifecycle.record(wave, req.actor, { step: i, stepStarted: true });
      say(`wave ${wave.id}: region ${target.name} (${i + 1}/${this.planes.length})`);
      current.region = plane;
      const started = await plane.deploy({ ...req, env: { ...req.env, BATON_REGION: target.name } });
      // Stopped while the region's release was starting: it stops too (see stopAll and abort).
      if (current.aborted) abortRegion(plane, current.abortedBy ?? SHUTDOWN_ACTOR);
      const ended = await plane.wait(started.id);
      current.region = undefined;
      if (ended.status !== "succeeded") {
        const reason = `region ${target.name}: ${ended.status}: ${ended.reason ?? "no reason recorded"}`;
        return this.stop(wave, i - 1, reason, req.actor);
      }
      const problem = await this.bake(wave, i, ended.version);
      if (problem) return this.stop(wave, i, `region ${target.name} bake: ${problem}`, req.actor);
    }
    return this.finish(wave, "succeeded", null, req.actor);
  }

  /**
   * The region serves the new version for `bake`; it is compared with the old version still
   * serving the next region over the same window. The last region has none to compare with: it
   * bakes by time only (its release was analysed against stable in its own region).
   */
  private async bake(wave: Release, index: number, version: string): Promise<string | undefined> {
    const { target } = this.planes[index]!;
    const next = this.planes[index + 1];
    const started = Date.now();
    let last = "";
    const looks = new LookRecorder(this.store, wave.id, index, started, this.opts.log);
    while (Date.now() - started < target.bake) {
      await sleep(Math.min(1000, target.bake));
      const aborted = this.wave?.aborted;
      if (aborted) return aborted;
      if (!next || !(await next.plane.status()).serving) continue; // nothing to compare with yet
      const window = Math.min(300, (Date.now() - started) / 1000 + 1);
      const [here, there] = await Promise.all([
        target.router.stats(`${this.service}.${target.name}`, window),
        next.target.router.stats(`${this.service}.${next.target.name}`, window),
      ]);
      // Tracks by version, not by name: a rolling release leaves its version on the `next` track.
      const baseline = there.tracks.find((t) => t.version !== version && t.requests > 0);
      const mine = here.tracks.find((t) => t.version === version);
      if (!baseline || !mine) continue;
      const verdict = analyzeCanary(
        sampleOf(here, mine.track, version),
        sampleOf(there, baseline.track, baseline.version),
        this.opts.file.analysis,
      );
      if (verdict.decision !== last) {
        await this.store.addDecision({
          releaseId: wave.id,
          step: index,
          decision: verdict.decision,
          reason: `bake in ${target.name} against ${next.target.name}: ${verdict.reason}`,
          numbers: { errorRate: verdict.errorRate, latency: verdict.latency, requests: verdict.requests },
        });
        last = verdict.decision;
      }
      looks.record(verdict, verdict.decision === "fail");
      if (verdict.decision === "fail") {
        await looks.flush();
        return verdict.reason;
      }
    }
    return undefined;
  }

  /** Stops the wave: regions 0..`lastDone` roll back, newest first. */
  private async stop(wave: Release, lastDone: number, reason: string, actor: string): Promise<Release> {
    this.opts.log?.(`wave ${wave.id} stopped: ${reason}`);
    await this.lifecycle.transition(wave, { to: "rolling-back", actor, reason });
    const failed = await this.rollBackRegions(wave, lastDone, actor);
    return failed
      ? this.finish(wave, "failed", `${reason}; ${failed}`, actor)
      : this.finish(wave, "rolled-back", reason, actor);
  }

  /** Rolls regions `lastDone`..0 back; returns what failed, if anything did. */
  private async rollBackRegions(wave: Release, lastDone: number, actor: string): Promise<string | undefined> {
    const problems: string[] = [];
    for (let i = lastDone; i >= 0; i--) {
      const { target, plane } = this.planes[i]!;
      const status = await plane.status();
      if (!status.serving || status.serving.version !== wave.version) continue;
      this.opts.log?.(`wave ${wave.id}: rolling back region ${target.name}`);
      try {
        const r = await plane.rollback(actor);
        const ended = await plane.wait(r.id);
        if (ended.status !== "succeeded")
          problems.push(`region ${target.name} rollback ${ended.status}: ${ended.reason}`);
      } catch (err) {
        problems.push(`region ${target.name} rollback failed: ${(err as Error).message}`);
      }
    }
    for (const p of problems) this.opts.log?.(p);
    return problems.length ? problems.join("; ") : undefined;
  }

  private async finish(
    wave: Release,
    status: "succeeded" | "rolled-back" | "failed",
    reason: string | null,
    actor: string,
  ) {
    return this.lifecycle.transition(wave, { to: status, actor, ...(reason ? { reason } : {}) });
  }

  private track(wave: Release, run: () => Promise<Release>): Promise<Release> {
    const state: Wave = { id: wave.id, done: Promise.resolve(wave) };
    this.wave = state;
    // An unexpected error (a region's router unreachable, say) must not leave the wave in flight
    // for ever: the done regions are rolled back where possible and the wave is marked failed.
    state.done = run()
      .catch(async (err: unknown) => {
        const reason = `wave stopped by an error: ${(err as Error).message}`;
        this.opts.log?.(`wave ${wave.id}: ${reason}`);
        await this.rollBackRegions(wave, this.planes.length - 1, "control-plane").catch(() => {});
        return this.finish(wave, "failed", reason, "control-plane");
      })
      .finally(() => {
        if (this.wave === state) this.wave = undefined;
      });
    return state.done;
  }

  async wait(id: number): Promise<Release> {
    if (this.wave?.id === id) await this.wave.done.catch(() => {});
    const r = await this.store.get(id);
    if (!r) throw new BatonControlError("BATON_UNKNOWN_RELEASE", `no release ${id}`);
    return r;
  }

  promote(): void {
    const region = this.wave?.region;
    if (!region)
      throw new BatonControlError("BATON_NO_RELEASE_RUNNING", `no release of ${this.service} is running`);
    region.promote();
  }

  abort(actor: string): void {
    if (!this.wave)
      throw new BatonControlError("BATON_NO_RELEASE_RUNNING", `no release of ${this.service} is running`);
    this.wave.aborted = `aborted by ${actor}`;
    this.wave.abortedBy = actor;
    try {
      this.wave.region?.abort(actor);
    } catch {
      // Between two regions: the wave itself stops at its next step.
    }
  }

  /** Every region back to its previous release, the last region first. */
  /** Every region back to the previous release (one wave of the previous version); `strategy` is not used. */
  async rollback(req: RollbackRequest | string): Promise<Release> {
    const actor = typeof req === "string" ? req : req.actor;
    if (this.wave) throw new ReleaseInProgressError(this.service, `wave ${this.wave.id} is still running`);
    const [latest] = await this.store.history(this.service, 1);
    if (latest?.status !== "succeeded")
      throw new BatonControlError(
        "BATON_NOTHING_TO_ROLL_BACK",
        `the last wave of ${this.service} did not succeed`,
      );
    const wave = await this.lifecycle.create(
      {
        service: this.service,
        version: latest.previousVersion ?? "(previous)",
        previousVersion: latest.version,
        strategy: "waves",
        previousInstances: [],
        env: {},
      },
      actor,
      { rollbackOf: latest.id },
    );
    const progressing = await this.lifecycle.transition(wave, {
      to: "progressing",
      actor,
      patch: { stepStarted: true },
    });
    this.track(progressing, async () => {
      const failed = await this.rollBackRegions(latest, this.planes.length - 1, actor);
      return this.finish(progressing, failed ? "failed" : "succeeded", failed ?? null, actor);
    });
    return progressing;
  }

  async status(): Promise<RegionalStatus> {
    const [latest] = await this.store.history(this.service, 1);
    return {
      service: this.service,
      release: latest ?? null,
      decisions: latest ? await this.store.decisions(latest.id) : [],
      regions: await Promise.all(
        this.planes.map(async ({ target, plane }) => ({ region: target.name, ...(await plane.status()) })),
      ),
    };
  }

  history(limit = 20): Promise<Release[]> {
    return this.store.history(this.service, limit);
  }

  async logs(version?: string, lines = 50): Promise<LogTail[]> {
    return (await Promise.all(this.planes.map(({ plane }) => plane.logs(version, lines)))).flat();
  }

  /** Resolves when no wave (and no region's own release) is in flight here. */
  async settled(): Promise<void> {
    await this.wave?.done.catch(() => {});
    for (const { plane } of this.planes) await plane.settled();
  }

  /**
   * A region's router restarted without its state file knows no service: it answers 404 for good
   * while this control plane believes the region serves. Each region's router is asked every
   * `everyMs` (outside a release, which puts its own table), and one that lost the service gets
   * what serves put back, as `baton up`'s supervisor does for its own router.
   */
  watchRouterTables(everyMs = 5000): void {
    this.tableWatch ??= setInterval(() => void this.restoreLostTables(), everyMs);
    this.tableWatch.unref();
  }

  async restoreLostTables(): Promise<void> {
    if (this.restoring || this.wave) return;
    this.restoring = true;
    try {
      for (const { target, plane } of this.planes) {
        const status = await plane.status();
        if (!status.serving || (status.release && inFlight(status.release.status))) continue;
        const lost = await target.router.service(plane.service).then(
          () => false,
          (err: unknown) => err instanceof RouterAdminError && err.status === 404,
        );
        if (!lost) continue;
        await plane.recover("control-plane (region router restarted)");
        this.opts.log?.(
          `[${target.name}] the region's router had lost its table (restarted without its state?); put back ${status.serving.version}`,
        );
      }
    } catch (err) {
      this.opts.log?.(`checking the regions' routers: ${(err as Error).message}`);
    } finally {
      this.restoring = false;
    }
  }

  async stopAll(): Promise<void> {
    clearInterval(this.tableWatch);
    if (this.wave) {
      this.wave.aborted ??= "the control plane is shutting down";
      this.wave.abortedBy ??= SHUTDOWN_ACTOR;
      // The region's release in flight stops too, as a lone control plane's does on shutdown: one
      // holding at a step for `baton promote` would otherwise hold `baton down` for ever.
      if (this.wave.region) abortRegion(this.wave.region, SHUTDOWN_ACTOR);
    }
    await this.wave?.done.catch(() => {});
    for (const { plane } of this.planes) await plane.stopAll();
  }

  detach(): void {
    clearInterval(this.tableWatch);
    for (const { plane } of this.planes) plane.detach();
  }
}

const SHUTDOWN_ACTOR = "the control plane (shutting down)";

/** Aborts the region's release in flight, if there is one (none: nothing to stop). */
function abortRegion(plane: ControlPlane, actor: string): void {
  try {
    plane.abort(actor);
  } catch {
    // No release in flight there (it just ended): the wave stops at its next step.
  }
}
