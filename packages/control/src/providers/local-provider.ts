import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { freePort } from "./free-port.js";
import { ProcessState } from "./instance-process-state.js";
import { type InstanceRecord, LocalInstance, OWNER_ENV } from "./local-instance.js";
import { processAlive, processesWithEnv } from "./process-alive.js";
import { InstancesNotReadyError, type Provider, type VersionSpec } from "./provider.js";

export { InstancesNotReadyError, type VersionSpec };

/**
 * Runs a version as N local processes. A version is handed back only when every instance is ready;
 * otherwise every instance it started is stopped again and nothing else is touched.
 *
 * Each process has exactly one owner: the instance that started or adopted it. Adopting a process
 * this provider already owns returns that instance, so two watchers never restart one process.
 */
export class LocalProvider implements Provider {
  readonly kind = "local";
  private readonly owned = new Map<number, LocalInstance>();

  constructor(private readonly dataDir: string) {}

  /** The marker every process started for `service` from this data directory carries. */
  ownerOf(service: string): string {
    return `${resolve(this.dataDir)}#${service}`;
  }

  private instance(spec: VersionSpec, port: number, index: number): LocalInstance {
    const inst = new LocalInstance({
      run: spec.run,
      service: spec.service,
      cwd: spec.cwd,
      version: spec.version,
      port,
      readinessPath: spec.readinessPath,
      logFile: join(this.dataDir, "logs", spec.service, spec.version, `${index}-${port}.log`),
      env: spec.env ?? {},
      owner: this.ownerOf(spec.service),
    });
    this.owned.set(port, inst);
    inst.onState((state) => {
      if (state === ProcessState.Stopped && this.owned.get(port) === inst) this.owned.delete(port);
      if (state === ProcessState.Starting) this.owned.set(port, inst); // restarted (rolling's restore)
    });
    return inst;
  }

  async startVersion(spec: VersionSpec, graceMs = 5_000): Promise<LocalInstance[]> {
    const ports = new Set<number>();
    while (ports.size < spec.count) ports.add(await freePort());
    const instances = [...ports].map((port, i) => this.instance(spec, port, (spec.firstIndex ?? 0) + i));
    for (const i of instances) i.start();
    const failures: (Error | undefined)[] = instances.map(() => undefined);
    const waits = instances.map((inst, k) =>
      inst.waitReady(spec.startTimeout).catch((err: Error) => {
        failures[k] = err;
        throw err;
      }),
    );
    // The first instance that cannot start fails the version: the others are not waited out to
    // their start timeout (a crash loop beside one still starting); they get a second to report.
    if (
      !(await Promise.all(waits).then(
        () => true,
        () => false,
      ))
    )
      await Promise.race([Promise.allSettled(waits), new Promise((r) => setTimeout(r, 1000))]);
    const reasons = failures.flatMap((err, k) =>
      err ? [`${err.message}${logTail(instances[k]!.spec.logFile)}`] : [],
    );
    if (reasons.length > 0) {
      await Promise.all(instances.map((i) => i.stop(graceMs)));
      throw new InstancesNotReadyError(
        spec.version,
        [...reasons, `see: baton logs --version ${spec.version}`],
        instances.map((i) => i.pid),
      );
    }
    return instances;
  }

  /**
   * Re-attaches to instances an earlier control plane started; returns those still alive. With
   * `restart`, an instance that died meanwhile is started again on its port, so the version comes
   * back to full strength (it then joins the router only once its health checks pass).
   */
  adopt(spec: VersionSpec, records: InstanceRecord[], opts: { restart?: boolean } = {}): LocalInstance[] {
    return records.flatMap((r, i) => {
      // Already owned here (started or adopted before): the same instance, one watcher.
      const existing = this.owned.get(r.port);
      if (existing && existing.version === spec.version && existing.state !== ProcessState.Stopped)
        return [existing];
      // Checked where its version was released to be checked, whatever baton.yaml says now.
      const inst = this.instance(
        { ...spec, readinessPath: r.readinessPath ?? spec.readinessPath },
        r.port,
        i,
      );
      if (inst.adopt(r)) return [inst];
      if (!opts.restart) {
        this.owned.delete(r.port);
        return [];
      }
      inst.start();
      return [inst];
    });
  }

  async sweep(
    service: string,
    opts: { spareOwned: boolean; graceMs: number; sparePorts?: Set<number> },
  ): Promise<number[]> {
    const spared = new Set<number>();
    if (opts.spareOwned)
      for (const i of this.owned.values())
        if (i.pid > 0 && i.state !== ProcessState.Stopped) spared.add(i.pid);
    const strays = processesWithEnv(OWNER_ENV, this.ownerOf(service)).filter(
      (p) => !spared.has(p.pid) && !spared.has(p.pgid) && !opts.sparePorts?.has(Number(p.env("PORT"))),
    );
    if (strays.length === 0) return [];
    const groups = [...new Set(strays.map((p) => p.pgid))];
    const signal = (sig: NodeJS.Signals) => {
      for (const g of groups) tryKill(-g, sig);
      for (const p of strays) tryKill(p.pid, sig);
    };
    signal("SIGTERM");
    const deadline = Date.now() + opts.graceMs;
    const left = () => strays.filter((p) => processAlive(p.pid));
    while (left().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (left().length > 0) signal("SIGKILL");
    while (left().length > 0) await new Promise((r) => setTimeout(r, 20));
    return strays.map((p) => p.pid);
  }
}

/** A line of an instance's output in a reason: enough to recognise it, not a whole blob. */
const LINE_SHOWN = 300;

/** The last lines of an instance's output, indented under its reason (each cut at 300 characters). */
function logTail(file: string, lines = 5): string {
  try {
    const tail = readFileSync(file, "utf8")
      .trimEnd()
      .split("\n")
      .slice(-lines)
      .map((l) => (l.length > LINE_SHOWN ? `${l.slice(0, LINE_SHOWN)}… (${l.length} characters)` : l));
    return tail.length && tail[0] !== "" ? `; last output:\n      ${tail.join("\n      ")}` : "";
  } catch {
    return "";
  }
}

function tryKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone already */
  }
}
