import { type InstanceRecord, InstancesNotReadyError, type Provider, type VersionSpec } from "./provider.js";
import { StaticInstance } from "./static-instance.js";

/**
 * Instances run by something else, given by address at each deploy. A version is handed back
 * only when every address passes its readiness check; otherwise the release gets none of them.
 */
export class StaticProvider implements Provider {
  readonly kind = "static";

  async startVersion(spec: VersionSpec): Promise<StaticInstance[]> {
    const addresses = spec.addresses ?? [];
    if (addresses.length === 0)
      throw new InstancesNotReadyError(spec.version, ["no instance addresses were given (--instances)"], []);
    const instances = addresses.map((a) => new StaticInstance(a, spec.version, spec.readinessPath).start());
    const results = await Promise.allSettled(instances.map((i) => i.waitReady(spec.startTimeout)));
    const reasons = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as Error).message] : []));
    if (reasons.length > 0) {
      await Promise.all(instances.map((i) => i.stop()));
      throw new InstancesNotReadyError(spec.version, reasons, []);
    }
    return instances;
  }

  adopt(spec: VersionSpec, records: InstanceRecord[]): StaticInstance[] {
    return records.map((r) =>
      new StaticInstance(
        r.address ?? `127.0.0.1:${r.port}`,
        spec.version,
        r.readinessPath ?? spec.readinessPath,
      ).start(),
    );
  }
}
