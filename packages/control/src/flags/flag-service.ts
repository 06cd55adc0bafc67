import type { Flag, Segment } from "@baton/flags";
import { badRequest } from "../api-input.js";
import { BatonControlError } from "../errors.js";
import type { SqlClient } from "../state/sql-client.js";
import { checkFlag, checkFlags } from "./check-flag.js";
import { ClientTokens } from "./client-tokens.js";
import { type FlagCounts, FlagMetrics } from "./flag-metrics.js";
import { FlagOutcomes } from "./flag-outcomes.js";
import { FlagSnapshot } from "./flag-snapshot.js";
import { type FlagChange, type FlagRecord, FlagStore, unknownFlag } from "./flag-store.js";
import { FlagStream, type FlagStreamOptions } from "./flag-stream.js";

export interface FlagServiceOptions {
  db: SqlClient;
  /** The service the audit events are recorded under. */
  service: string;
  stream?: FlagStreamOptions;
}

/**
 * Who changes, on which version the change is based (none: whatever is stored), and why (kept in
 * the flag's history and the audit event).
 */
export interface WriteOptions {
  actor: string;
  expectedVersion?: number | undefined;
  reason?: string | undefined;
}

/**
 * The control plane's feature flags: the store, the in-memory state the client API serves, the
 * streams to connected SDKs, client tokens and reported metrics. Every write reaches the streams
 * once it has committed, in commit order.
 */
export class FlagService {
  readonly store: FlagStore;
  readonly tokens: ClientTokens;
  readonly metrics = new FlagMetrics();
  /** Request outcomes with each flag on and off, as SDKs report them (what guarded rollouts judge). */
  readonly outcomes = new FlagOutcomes();
  readonly snapshot = new FlagSnapshot();
  readonly stream: FlagStream;
  /** Pulls of committed changes, one after another. */
  private syncing: Promise<void> = Promise.resolve();

  constructor(opts: FlagServiceOptions) {
    this.store = new FlagStore(opts.db, opts.service);
    this.tokens = new ClientTokens(opts.db, opts.service);
    this.stream = new FlagStream(this.snapshot, opts.stream);
  }

  async init(): Promise<void> {
    await this.store.migrate();
    await this.tokens.migrate();
    const head = await this.store.head();
    this.snapshot.reset(
      (await this.store.list()).map((r) => r.flag),
      await this.store.segments(),
      head,
    );
  }

  list(): Promise<FlagRecord[]> {
    return this.store.list();
  }

  async get(name: string): Promise<FlagRecord & { metrics: FlagCounts | null }> {
    const found = await this.store.get(name);
    if (!found) throw unknownFlag(name);
    return { ...found, metrics: this.metrics.of(name) ?? null };
  }

  /** Creates or replaces a flag with `input` (Unleash's client format); its name must be `name`. */
  async put(name: string, input: Record<string, unknown>, opts: WriteOptions): Promise<FlagRecord> {
    if (input.name !== undefined && input.name !== name)
      throw badRequest("name", `name: the body names ${JSON.stringify(input.name)}, the path ${name}`);
    const flag = checkFlag({ ...input, name });
    return (await this.write(name, opts, () => flag))!;
  }

  async remove(name: string, opts: WriteOptions): Promise<{ deleted: true; name: string }> {
    await this.write(name, opts, () => null);
    return { deleted: true, name };
  }

  setEnabled(name: string, enabled: boolean, opts: WriteOptions): Promise<FlagRecord> {
    return this.change(name, opts, (flag) => ({ ...flag, enabled }));
  }

  /** Sets the rollout percentage of the flag's first flexibleRollout strategy. */
  setRollout(name: string, percent: number, opts: WriteOptions): Promise<FlagRecord> {
    return this.change(name, opts, (flag) => {
      const at = flag.strategies.findIndex((s) => s.name === "flexibleRollout");
      if (at < 0)
        throw new BatonControlError(
          "BATON_FLAG_NO_ROLLOUT",
          `flag ${name} has no flexibleRollout strategy (its strategies: ${
            flag.strategies.map((s) => s.name).join(", ") || "none"
          }); add one with baton flags apply, or PUT /v1/flags/${name}`,
        );
      const strategies = flag.strategies.map((s, i) =>
        // Unleash writes percentages as strings; its SDKs read both.
        i === at ? { ...s, parameters: { ...s.parameters, rollout: String(percent) } } : s,
      );
      return { ...flag, strategies };
    });
  }

  history(name: string, limit?: number): Promise<FlagChange[]> {
    return this.store.history(name, limit);
  }

  /** Validates every flag and segment first, then writes them in one transaction: all or nothing. */
  async apply(flags: readonly unknown[], segments: readonly unknown[], actor: string) {
    const checked = checkFlags(flags, segments, await this.store.segments());
    const names = new Set<string>();
    checked.flags.forEach((f, i) => {
      if (names.has(f.name))
        throw badRequest(`flags[${i}].name`, `flags[${i}].name: ${f.name} is given twice`);
      names.add(f.name);
    });
    const result = await this.store.apply(checked.flags, checked.segments, actor);
    await this.sync();
    return result;
  }

  /** Ends the streams (the API is closing). */
  close(): void {
    this.stream.close();
  }

  /** Changes a stored flag from its current definition; a result that is not a valid flag is a 400. */
  private async change(name: string, opts: WriteOptions, edit: (flag: Flag) => Flag): Promise<FlagRecord> {
    return (await this.write(name, opts, (current) => {
      if (!current) throw unknownFlag(name);
      return checkFlag(edit(current.flag));
    }))!;
  }

  private async write(
    name: string,
    opts: WriteOptions,
    edit: (current: FlagRecord | undefined) => Flag | null,
  ): Promise<FlagRecord | undefined> {
    const { record, change } = await this.store.write(name, opts, edit);
    if (change) await this.sync();
    return record;
  }

  /**
   * Applies the changes committed since the snapshot's, in order, and pushes them to the streams.
   * Pulled from the table rather than passed along, so that two writes that commit close together
   * are still sent in commit order.
   */
  sync(): Promise<void> {
    // A failed pull (the database gone for a moment) is retried by the next one: nothing is skipped.
    this.syncing = this.syncing
      .catch(() => {})
      .then(async () => {
        const changes = await this.store.changesSince(this.snapshot.changeId);
        this.stream.publish(changes.map((c) => this.snapshot.apply(c)));
      });
    return this.syncing.catch(() => {});
  }

  /** Segments as stored (for exports). */
  segments(): Segment[] {
    return this.snapshot.segments();
  }
}
