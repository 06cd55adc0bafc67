import { join } from "node:path";
import { freePort } from "./free-port.js";
import { type InstanceRecord, LocalInstance } from "./local-instance.js";
import { InstancesNotReadyError, type Provider, type VersionSpec } from "./provider.js";

export { InstancesNotReadyError, type VersionSpec };

/**
 * Runs a version as N local processes. A version is handed back only when every instance is ready;
 * otherwise every instance it started is stopped again and nothing else is touched.
 */
export class LocalProvider implements Provider {
  readonly kind = "local";

  constructor(private readonly dataDir: string) {}

  private instance(spec: VersionSpec, port: number, index: number): LocalInstance {
    return new LocalInstance({
      run: spec.run,
      cwd: spec.cwd,
      version: spec.version,
      port,
      readinessPath: spec.readinessPath,
      logFile: join(this.dataDir, "logs", spec.service, spec.version, `${index}-${port}.log`),
      env: spec.env ?? {},
    });
  }

  async startVersion(spec: VersionSpec, graceMs = 5_000): Promise<LocalInstance[]> {
    const ports = new Set<number>();
    while (ports.size < spec.count) ports.add(await freePort());
    const instances = [...ports].map((port, i) => this.instance(spec, port, i));
    for (const i of instances) i.start();
    const results = await Promise.allSettled(instances.map((i) => i.waitReady(spec.startTimeout)));
    const reasons = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as Error).message] : []));
    if (reasons.length > 0) {
      await Promise.all(instances.map((i) => i.stop(graceMs)));
      throw new InstancesNotReadyError(
        spec.version,
        reasons,
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
      const inst = this.instance(spec, r.port, i);
      if (inst.adopt(r)) return [inst];
      if (!opts.restart) return [];
      inst.start();
      return [inst];
    });
  }
}
