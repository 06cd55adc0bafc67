import { setTimeout as sleep } from "node:timers/promises";
import type { Registry } from "prom-client";
import {
  type BackfillProgress,
  type BackfillProgressStore,
  memoryBackfillProgress,
} from "./backfill-progress.js";
import { DualWriteError } from "./dual-write-error.js";
import { type DualWriteStats, dualWriteCounter, emptyDualWriteStats } from "./dual-write-stats.js";
import { isMigrationPhase, type MigrationPhase, oldIsTruth, writesBoth } from "./migration-phase.js";
import type { MigrationStore, StoredRecord } from "./migration-store.js";
import { MismatchWindow } from "./mismatch-window.js";
import { type StoreChecksum, storeChecksum } from "./store-checksum.js";
import { diffValues, stableJson, type ValueDifference } from "./value-diff.js";

export type StoreSide = "old" | "new";

export interface DualWriteOptions<V> {
  /** Names the migration in errors, events and metrics ("sessions-to-redis"). */
  name: string;
  /** The store the data lives in today. */
  from: MigrationStore<V>;
  /** The store it moves to. */
  to: MigrationStore<V>;
  /**
   * The phase: a number held by the migration and changed by `advanceTo`, or a function read at
   * every operation (`flagPhase(client, "sessions-store")`), which the migration follows, except
   * forward moves whose conditions fail and any move out of 5 (see `canAdvance`). The function's
   * first answer is taken as it is.
   */
  phase: MigrationPhase | (() => MigrationPhase);
  /** Where the backfill keeps its cursor (default in memory: give a durable one in production). */
  progress?: BackfillProgressStore;
  /** Whether the two stores' values agree (default: equal as JSON with sorted keys). */
  equals?: (oldValue: V, newValue: V) => boolean;
  /** Comparisons the mismatch rate is measured over (default 1000). */
  window?: number;
  /** The highest mismatch rate over the window that lets phase 3 advance (default 0.001). */
  maxMismatchRate?: number;
  /** Comparisons phase 3 needs before it can advance (default 100, at most `window`). */
  minComparisons?: number;
  /** Mismatch and failure samples kept (default 20 of each, the latest). */
  samples?: number;
  /** A write to the store that is not the truth is given up (and counted) after this (default 1000 ms). */
  secondaryTimeoutMs?: number;
  /** Keys of failed secondary writes remembered for `repair()`; past it, the backfill must run again (default 10 000). */
  maxPendingRepairs?: number;
  /** A refused move the phase function still asks for is checked again after this (default 1000 ms). */
  recheckMs?: number;
  /** prom-client registry for the counters (default the global one; false for none). */
  registry?: Registry | false;
  /** Phase changes, refusals, mismatches and secondary failures, as they happen. */
  onEvent?: (event: DualWriteEvent<V>) => void;
}

export interface MismatchSample<V> {
  key: string;
  phase: MigrationPhase;
  /** `value`: same write, different values (a mapping bug); `missing`/`unexpected`: one side has no value; `stale`: the new side stayed behind. */
  kind: "value" | "missing" | "unexpected" | "stale";
  old: StoredRecord<V> | undefined;
  new: StoredRecord<V> | undefined;
  diff: ValueDifference[];
  at: Date;
}

export interface FailureSample {
  key: string;
  phase: MigrationPhase;
  store: string;
  operation: "write" | "read" | "repair";
  error: string;
  at: Date;
}

export type DualWriteEvent<V> =
  | { type: "phase"; from: MigrationPhase; to: MigrationPhase }
  | { type: "refused"; from: MigrationPhase; to: MigrationPhase; reasons: string[] }
  | { type: "mismatch"; sample: MismatchSample<V> }
  | { type: "failure"; sample: FailureSample };

export interface AdvanceCheck {
  ok: boolean;
  from: MigrationPhase;
  to: MigrationPhase;
  /** Why not, one sentence each; empty when ok. */
  reasons: string[];
}

export interface BackfillOptions {
  /** Records read and copied per page (default 500). */
  batchSize?: number;
  /** Throttle: at most this many records a second on average (default none). */
  rowsPerSecond?: number;
  /** A pause after every page (default 0), on top of the throttle. */
  pauseMs?: number;
  /** Stops after the page in progress; the progress is saved, and the next run goes on from it. */
  signal?: AbortSignal;
  /** Starts over from the beginning even when a previous pass completed. */
  restart?: boolean;
}

export interface BackfillResult {
  /** Records written to the other store in this run. */
  copied: number;
  /** Records read from the truth in this run. */
  read: number;
  /** The whole store has been copied (in this run or earlier ones since the last reset). */
  done: boolean;
}

export interface DualWrite<V> {
  get(key: string): Promise<V | undefined>;
  put(key: string, value: V): Promise<void>;
  delete(key: string): Promise<void>;
  /** The phase this process is in. */
  readonly phase: MigrationPhase;
  /** Whether the migration may move from its phase to `to` (default the next one), and if not, why. */
  canAdvance(to?: MigrationPhase): Promise<AdvanceCheck>;
  /**
   * Moves a migration whose phase is a number, after `canAdvance` (a refusal throws
   * `BATON_DUAL_WRITE_ADVANCE_REFUSED` with the reasons; `force` skips the checks). Resolves once
   * the operations started in the previous phase have finished and their failed writes were repaired.
   */
  advanceTo(next: MigrationPhase, options?: { force?: boolean }): Promise<void>;
  /** Follows the phase function now (its checks awaited) and waits for comparisons in progress. */
  settle(): Promise<MigrationPhase>;
  /** Copies the truth's history to the other store (phases 1-4; 2 is the phase made for it). */
  backfill(options?: BackfillOptions): Promise<BackfillResult>;
  /** Copies again the keys whose secondary write failed; answers how many are still pending. */
  repair(): Promise<number>;
  /** Both stores' checksums, and whether they are equal. */
  checksums(): Promise<{ old: StoreChecksum; new: StoreChecksum; equal: boolean }>;
  /** The phase-3 comparisons over the window. */
  mismatchRate(): { comparisons: number; mismatches: number; rate: number };
  /** Keys whose write to the store that is not the truth failed, not yet repaired, per side. */
  pendingRepairs(): { old: number; new: number };
  readonly stats: DualWriteStats;
  readonly samples: { mismatches: MismatchSample<V>[]; failures: FailureSample[] };
}

/**
 * Moves data from one store to another without a big bang, in the phases of `MigrationPhase`.
 *
 * No acknowledged write is lost across a phase change, with several writers and processes in
 * different phases for a while: each write goes to the truth first, which gives it a version
 * (above the key's previous one), then to the other store as a copy applied only when not older.
 * Both stores end up holding, for each key, the write with the highest version, whatever order
 * the writes reached them in; a write acknowledged before another started is in the truth store
 * the other writes to, so it gets the lower version. A write is acknowledged only after both
 * stores took it, or after the other store's failure was counted and its key kept for `repair()`,
 * which moves into phase 4 (or back to 3) wait for.
 */
export function dualWrite<V>(options: DualWriteOptions<V>): DualWrite<V> {
  const { name, from, to } = options;
  const bad = (message: string) => new DualWriteError("BATON_DUAL_WRITE_BAD_OPTION", name || "?", message);
  if (typeof name !== "string" || name === "")
    throw bad(
      "name must be a non-empty string (it names the migration in metrics and its backfill's progress)",
    );
  const source = typeof options.phase === "function" ? options.phase : undefined;
  if (!source && !isMigrationPhase(options.phase)) {
    throw bad(`phase ${String(options.phase)} is not one of 0-5 nor a function answering one`);
  }
  const windowSize = options.window ?? 1000;
  const maxMismatchRate = options.maxMismatchRate ?? 0.001;
  const minComparisons = Math.min(options.minComparisons ?? 100, windowSize);
  if (!(windowSize >= 1)) throw bad(`window ${windowSize} must be at least 1`);
  if (!(maxMismatchRate >= 0 && maxMismatchRate <= 1))
    throw bad(`maxMismatchRate ${maxMismatchRate} is not within 0..1`);
  const sampleSize = options.samples ?? 20;
  const secondaryTimeoutMs = options.secondaryTimeoutMs ?? 1000;
  const maxPending = options.maxPendingRepairs ?? 10_000;
  const recheckMs = options.recheckMs ?? 1000;
  const progressStore = options.progress ?? memoryBackfillProgress();
  const equals = options.equals ?? ((a: V, b: V) => stableJson(a) === stableJson(b));

  const stats = emptyDualWriteStats();
  const count = dualWriteCounter(stats, name, options.registry);
  const samples = { mismatches: [] as MismatchSample<V>[], failures: [] as FailureSample[] };
  const window = new MismatchWindow(windowSize);
  const pending: Record<StoreSide, Set<string>> = { old: new Set(), new: new Set() };
  const inflight: Record<MigrationPhase, number> = { 0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 };
  const comparisons = new Set<Promise<void>>();
  let current: MigrationPhase | undefined = source ? undefined : (options.phase as MigrationPhase);
  let following: Promise<void> | undefined;
  let refused: { to: MigrationPhase; at: number } | undefined;

  const emit = (event: DualWriteEvent<V>) => {
    try {
      options.onEvent?.(event);
    } catch {
      // A listener's failure must not fail the request it watches.
    }
  };
  const keep = <T>(list: T[], item: T) => {
    list.push(item);
    if (list.length > sampleSize) list.shift();
  };
  const storeOf = (side: StoreSide) => (side === "old" ? from : to);
  const failed = (
    phase: MigrationPhase,
    key: string,
    store: MigrationStore<V>,
    operation: FailureSample["operation"],
    error: unknown,
  ) => {
    const sample: FailureSample = {
      key,
      phase,
      store: store.name,
      operation,
      error: String((error as Error)?.message ?? error),
      at: new Date(),
    };
    keep(samples.failures, sample);
    emit({ type: "failure", sample });
  };
  const pend = (side: StoreSide, key: string) => {
    if (pending[side].size >= maxPending) {
      // Too many to remember: the next backfill pass copies everything again, and the phases
      // that need a complete copy wait for it.
      pending[side].clear();
      progressStore.reset().catch(() => {});
      return;
    }
    pending[side].add(key);
  };

  /** The phase an operation runs in: the number held, or the function's answer once its checks passed. */
  function phaseNow(): MigrationPhase {
    if (!source) return current as MigrationPhase;
    const requested = source();
    if (!isMigrationPhase(requested))
      throw bad(`the phase function answered ${String(requested)}, not one of 0-5`);
    if (current === undefined) current = requested;
    else if (requested !== current) follow(requested, false);
    return current;
  }

  function follow(requested: MigrationPhase, now: boolean): Promise<void> {
    if (following) return following;
    if (!now && refused?.to === requested && Date.now() - refused.at < recheckMs) return Promise.resolve();
    const run = async () => {
      const was = current as MigrationPhase;
      const check = await checkMove(was, requested);
      if (!check.ok) {
        refused = { to: requested, at: Date.now() };
        emit({ type: "refused", from: was, to: requested, reasons: check.reasons });
        return;
      }
      refused = undefined;
      await apply(was, requested);
    };
    following = run()
      .catch((error) => {
        refused = { to: requested, at: Date.now() };
        emit({
          type: "refused",
          from: current as MigrationPhase,
          to: requested,
          reasons: [String((error as Error).message)],
        });
      })
      .finally(() => {
        following = undefined;
      });
    return following;
  }

  async function checkMove(fromPhase: MigrationPhase, toPhase: MigrationPhase): Promise<AdvanceCheck> {
    const reasons: string[] = [];
    if (fromPhase === 5 && toPhase !== 5) {
      reasons.push(
        "phase 5 retired the old store: it has not been kept in step since, so going back would lose writes",
      );
    } else if (toPhase > fromPhase) {
      if (toPhase >= 3 && fromPhase < 3) {
        const progress = await progressStore.load();
        if (!progress?.done || progress.source !== from.name) {
          reasons.push(
            progress && progress.source === from.name
              ? `the backfill from ${from.name} has not completed (${progress.copied} records copied so far): run backfill()`
              : `no backfill from ${from.name} has completed since the last reset: run backfill()`,
          );
        }
      }
      if (toPhase >= 4 && fromPhase < 4) {
        if (window.comparisons < minComparisons) {
          reasons.push(
            `phase 3 compared ${window.comparisons} reads, fewer than the ${minComparisons} needed to judge`,
          );
        } else if (window.rate > maxMismatchRate) {
          reasons.push(
            `${window.mismatches} of the last ${window.comparisons} compared reads differed ` +
              `(${(window.rate * 100).toFixed(2)}% > ${(maxMismatchRate * 100).toFixed(2)}%); see samples.mismatches`,
          );
        }
        if ((await repair()) > 0 && pending.new.size > 0) {
          reasons.push(`${pending.new.size} writes the new store failed to take could not be repaired yet`);
        }
      }
    } else if (toPhase < fromPhase && fromPhase === 4) {
      if ((await repair()) > 0 && pending.old.size > 0) {
        reasons.push(`${pending.old.size} writes the old store failed to take could not be repaired yet`);
      }
    }
    return { ok: reasons.length === 0, from: fromPhase, to: toPhase, reasons };
  }

  async function apply(fromPhase: MigrationPhase, toPhase: MigrationPhase): Promise<void> {
    // Phase 0 does not write the new store, so its copy stops being complete: forgotten first, so
    // that a failure to forget leaves the migration where it was (the move is refused).
    if (toPhase === 0 && fromPhase !== 0) await progressStore.reset();
    current = toPhase;
    if (toPhase === 3 && fromPhase !== 3) window.clear(); // judge the new store as it is now
    emit({ type: "phase", from: fromPhase, to: toPhase });
    // Operations that read the previous phase finish writing both stores; the keys of any that
    // failed on the side that is now the truth are copied to it.
    while (Object.entries(inflight).some(([phase, n]) => n > 0 && Number(phase) !== toPhase)) await sleep(2);
    await repair();
  }

  async function write(key: string, value: V | undefined): Promise<void> {
    const phase = phaseNow();
    inflight[phase]++;
    try {
      const truthSide: StoreSide = oldIsTruth(phase) ? "old" : "new";
      const otherSide: StoreSide = truthSide === "old" ? "new" : "old";
      const version = await storeOf(truthSide).put(key, value);
      count(phase, "writes");
      if (!writesBoth(phase)) return;
      const other = storeOf(otherSide);
      try {
        await withTimeout(other.putCopy({ key, version, value }), secondaryTimeoutMs, other.name);
      } catch (error) {
        count(phase, "secondaryFailures");
        pend(otherSide, key);
        failed(phase, key, other, "write", error);
      }
    } finally {
      inflight[phase]--;
    }
  }

  async function read(key: string): Promise<V | undefined> {
    const phase = phaseNow();
    if (phase >= 4) return (await to.get(key))?.value;
    if (phase !== 3) return (await from.get(key))?.value;
    const candidate = to.get(key).then(
      (record) => ({ record }),
      (error: unknown) => ({ error }),
    );
    const old = await from.get(key);
    const comparison = compare(phase, key, old, candidate).catch(() => {});
    comparisons.add(comparison);
    comparison.finally(() => comparisons.delete(comparison));
    return old?.value;
  }

  /**
   * Scientist's experiment, off the request's path. A write between the two reads shows as
   * different versions, not as a mismatch: both sides are read again (truth first, so the copy
   * can only be behind) until their versions agree; the same version with different values is a
   * mapping bug.
   */
  async function compare(
    phase: MigrationPhase,
    key: string,
    firstOld: StoredRecord<V> | undefined,
    firstNew: Promise<{ record?: StoredRecord<V>; error?: unknown }>,
  ): Promise<void> {
    let old = firstOld;
    let answer = await firstNew;
    for (let attempt = 0; ; attempt++) {
      if (answer.error !== undefined) {
        failed(phase, key, to, "read", answer.error);
        return;
      }
      if (live(old)?.version === live(answer.record)?.version || attempt === 3) break;
      await sleep(5 * (attempt + 1));
      old = await from.get(key);
      answer = await to.get(key).then(
        (record) => ({ record }),
        (error: unknown) => ({ error }),
      );
    }
    const a = live(old);
    const b = live(answer.record);
    let kind: MismatchSample<V>["kind"] | undefined;
    if (a && !b) kind = "missing";
    else if (!a && b) kind = "unexpected";
    else if (a && b && a.version !== b.version) kind = "stale";
    else if (a && b && !equals(a.value as V, b.value as V)) kind = "value";
    count(phase, "comparisons");
    window.record(kind !== undefined);
    if (!kind) return;
    count(phase, "mismatches");
    const sample: MismatchSample<V> = {
      key,
      phase,
      kind,
      old,
      new: answer.record,
      diff: diffValues(a?.value, b?.value),
      at: new Date(),
    };
    keep(samples.mismatches, sample);
    emit({ type: "mismatch", sample });
  }

  async function repair(): Promise<number> {
    for (const side of ["new", "old"] as const) {
      const target = storeOf(side);
      const truth = storeOf(side === "new" ? "old" : "new");
      for (const key of [...pending[side]]) {
        try {
          const record = await truth.get(key);
          if (record) await target.putCopy(record);
          pending[side].delete(key);
          count(current ?? 0, "repaired");
        } catch (error) {
          failed(current ?? 0, key, target, "repair", error);
          break; // the store is still failing: the rest waits for the next repair
        }
      }
    }
    return pending.old.size + pending.new.size;
  }

  async function backfill(backfillOptions: BackfillOptions = {}): Promise<BackfillResult> {
    const phase = phaseNow();
    if (!writesBoth(phase)) {
      throw new DualWriteError(
        "BATON_DUAL_WRITE_WRONG_PHASE",
        name,
        `backfill needs both stores written (phases 1-4); the migration is in phase ${phase}`,
      );
    }
    const batchSize = backfillOptions.batchSize ?? 500;
    const truth = oldIsTruth(phase) ? from : to;
    const other = truth === from ? to : from;
    // A write made in phase 0 may still be on its way to the old store: the scan must see it.
    while (inflight[0] > 0) await sleep(2);
    const fresh: BackfillProgress = { source: truth.name, done: false, copied: 0 };
    let progress = backfillOptions.restart ? undefined : await progressStore.load();
    if (!progress || progress.source !== truth.name) progress = fresh;
    if (progress.done) return { copied: 0, read: 0, done: true };
    let copied = 0;
    let read = 0;
    const started = Date.now();
    for (;;) {
      if (backfillOptions.signal?.aborted) return { copied, read, done: false };
      if (!writesBoth(phaseNow())) {
        throw new DualWriteError(
          "BATON_DUAL_WRITE_WRONG_PHASE",
          name,
          `the phase became ${phaseNow()} during the backfill`,
        );
      }
      const page = await truth.scan(progress.cursor, batchSize);
      const applied = await Promise.all(page.records.map((record) => other.putCopy(record)));
      const n = applied.filter(Boolean).length;
      count(phase, "backfilled", n);
      copied += n;
      read += page.records.length;
      progress = {
        source: truth.name,
        cursor: page.cursor,
        done: page.cursor === undefined,
        copied: progress.copied + n,
      };
      await progressStore.save(progress);
      if (progress.done) return { copied, read, done: true };
      const due = backfillOptions.rowsPerSecond ? (read / backfillOptions.rowsPerSecond) * 1000 : 0;
      const wait = Math.max(due - (Date.now() - started), 0) + (backfillOptions.pauseMs ?? 0);
      if (wait > 0) await sleep(wait);
    }
  }

  return {
    get: read,
    put: (key, value) => {
      // undefined would be written as a deletion (a tombstone): a value, or delete(key), is meant.
      if (value === undefined)
        return Promise.reject(
          bad(`put("${key}", undefined): a value is needed (to remove the record, call delete("${key}"))`),
        );
      return write(key, value);
    },
    delete: (key) => write(key, undefined),
    get phase() {
      return source ? phaseNow() : (current as MigrationPhase);
    },
    async canAdvance(toPhase) {
      const fromPhase = source ? phaseNow() : (current as MigrationPhase);
      const target = toPhase ?? (Math.min(fromPhase + 1, 5) as MigrationPhase);
      if (!isMigrationPhase(target)) throw bad(`phase ${String(target)} is not one of 0-5`);
      return checkMove(fromPhase, target);
    },
    async advanceTo(next, advanceOptions = {}) {
      if (source) {
        throw bad(
          "the phase comes from a function (a flag): change the flag; canAdvance() says whether the migration follows",
        );
      }
      if (!isMigrationPhase(next)) throw bad(`phase ${String(next)} is not one of 0-5`);
      const fromPhase = current as MigrationPhase;
      if (next === fromPhase) return;
      if (!advanceOptions.force) {
        const check = await checkMove(fromPhase, next);
        if (!check.ok) {
          emit({ type: "refused", from: fromPhase, to: next, reasons: check.reasons });
          throw new DualWriteError(
            "BATON_DUAL_WRITE_ADVANCE_REFUSED",
            name,
            `cannot move from phase ${fromPhase} to ${next}: ${check.reasons.join("; ")}`,
          );
        }
      }
      await apply(fromPhase, next);
    },
    async settle() {
      if (source) {
        const requested = source();
        if (current === undefined) current = requested;
        if (following) await following;
        if (requested !== current) await follow(requested, true);
      }
      while (comparisons.size > 0) await Promise.all([...comparisons]);
      return current as MigrationPhase;
    },
    backfill,
    repair,
    async checksums() {
      const [a, b] = await Promise.all([storeChecksum(from), storeChecksum(to)]);
      return { old: a, new: b, equal: a.count === b.count && a.digest === b.digest };
    },
    mismatchRate: () => ({
      comparisons: window.comparisons,
      mismatches: window.mismatches,
      rate: window.rate,
    }),
    pendingRepairs: () => ({ old: pending.old.size, new: pending.new.size }),
    stats,
    samples,
  };
}

/** A record's live part: a tombstone reads as nothing. */
function live<V>(record: StoredRecord<V> | undefined): StoredRecord<V> | undefined {
  return record && record.value !== undefined ? record : undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number, store: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${store} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
