import type { Flag, Segment } from "@baton/flags";
import { badRequest } from "../api-input.js";
import { AuditLog } from "../audit/audit-log.js";
import { canonicalJson } from "../audit/canonical-json.js";
import { BatonControlError } from "../errors.js";
import type { SqlClient } from "../state/sql-client.js";

/** A flag as stored: its definition (Unleash's client format) and its version for optimistic concurrency. */
export interface FlagRecord {
  name: string;
  /** 1 when created, one more at every change. */
  version: number;
  flag: Flag;
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
}

/** One change of a flag or a segment, as the flag-events table keeps it (history and streaming). */
export interface FlagChange {
  /** Increases by one per change across all flags and segments: the streaming API's event id. */
  id: number;
  at: string;
  actor: string;
  action: "flag.created" | "flag.changed" | "flag.deleted" | "segment.changed" | "segment.deleted";
  kind: "flag" | "segment";
  /** The flag's name, or the segment's id as text. */
  name: string;
  /** The flag's version after the change (0 once deleted); segments: 0. */
  version: number;
  before: Flag | Segment | null;
  after: Flag | Segment | null;
  /** Why, as the one who changed it said (a guarded rollout's numbers, a schedule); null: not said. */
  reason: string | null;
}

/** Who writes a flag, why, and on which version of it (none: whatever is stored). */
export interface FlagWriteOptions {
  actor: string;
  expectedVersion?: number | undefined;
  reason?: string | undefined;
}

/** What a flag write does with the flag as it is now (undefined: none): the new definition, or null to delete it. */
export type FlagEdit = (current: FlagRecord | undefined) => Flag | null;

/** What one history answer holds of flag definitions at most, as JSON text. */
const HISTORY_MAX_BYTES = 16 * 1024 * 1024;

/** A change based on an old version of a flag: nothing was changed. */
export class FlagConflictError extends BatonControlError {
  constructor(
    readonly flag: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(
      "BATON_FLAG_CONFLICT",
      `flag ${flag} is at version ${actual}, the change was based on version ${expected}` +
        (actual === 0 ? " (it does not exist)" : "") +
        "; nothing was changed: read it again and redo the change",
    );
  }
}

export function unknownSegment(id: number): BatonControlError {
  return new BatonControlError("BATON_UNKNOWN_SEGMENT", `no segment with id ${id}`);
}

/** What `apply` would do (a dry run): names per outcome, and each change's before and after. */
export interface ApplyPlan {
  created: string[];
  changed: string[];
  unchanged: string[];
  segments: number[];
  changes: {
    kind: "flag" | "segment";
    name: string;
    before: Flag | Segment | null;
    after: Flag | Segment;
  }[];
}

export function unknownFlag(name: string): BatonControlError {
  return new BatonControlError("BATON_UNKNOWN_FLAG", `no flag ${name}`);
}

/**
 * Flags and segments in PostgreSQL. Every write is one transaction that takes the head row's lock
 * (so writes are serialised and change ids are handed out in commit order, which lets a streaming
 * client resume after any id), writes the row, its change (before and after) and its audit event.
 */
export class FlagStore {
  constructor(
    private readonly db: SqlClient,
    /** The service the audit events are recorded under. */
    private readonly service: string,
  ) {}

  async migrate(): Promise<void> {
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_flags (
        name text PRIMARY KEY,
        version int NOT NULL,
        definition jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by text NOT NULL
      )`);
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_flag_segments (
        id int PRIMARY KEY,
        definition jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_flag_changes (
        id bigint PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL,
        kind text NOT NULL,
        name text NOT NULL,
        version int NOT NULL,
        before jsonb,
        after jsonb,
        reason text
      )`);
    // Tables made before changes had a reason.
    await this.db.query("ALTER TABLE baton_flag_changes ADD COLUMN IF NOT EXISTS reason text");
    await this.db.query(
      "CREATE INDEX IF NOT EXISTS baton_flag_changes_by_name ON baton_flag_changes (kind, name, id)",
    );
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_flag_head (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        change_id bigint NOT NULL
      )`);
    await this.db.query(
      "INSERT INTO baton_flag_head (id, change_id) VALUES (true, 0) ON CONFLICT DO NOTHING",
    );
  }

  async list(): Promise<FlagRecord[]> {
    const { rows } = await this.db.query<FlagRow>("SELECT * FROM baton_flags ORDER BY name");
    return rows.map(toRecord);
  }

  async get(name: string): Promise<FlagRecord | undefined> {
    const { rows } = await this.db.query<FlagRow>("SELECT * FROM baton_flags WHERE name = $1", [name]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async segments(): Promise<Segment[]> {
    const { rows } = await this.db.query<{ definition: Segment }>(
      "SELECT definition FROM baton_flag_segments ORDER BY id",
    );
    return rows.map((r) => r.definition);
  }

  /** The id of the latest change (0: none yet). */
  async head(): Promise<number> {
    const { rows } = await this.db.query<{ change_id: string }>("SELECT change_id FROM baton_flag_head");
    return Number(rows[0]?.change_id ?? 0);
  }

  /** Changes after `id`, oldest first. */
  async changesSince(id: number): Promise<FlagChange[]> {
    const { rows } = await this.db.query<ChangeRow>(
      "SELECT * FROM baton_flag_changes WHERE id > $1 ORDER BY id",
      [id],
    );
    return rows.map(toChange);
  }

  /** A flag's changes, newest first. */
  /**
   * A flag's changes, newest first: at most `limit`, and no more than about 16 MiB of definitions
   * (the newest always), so that a large flag changed often cannot make one answer unbounded.
   */
  async history(name: string, limit = 100): Promise<FlagChange[]> {
    const { rows } = await this.db.query<ChangeRow>(
      `SELECT * FROM (
         SELECT c.*, sum(coalesce(octet_length(c.before::text), 0) + coalesce(octet_length(c.after::text), 0))
                  OVER (ORDER BY c.id DESC) AS running_bytes
           FROM baton_flag_changes c WHERE kind = 'flag' AND name = $1 ORDER BY id DESC LIMIT $2
       ) h WHERE running_bytes <= $3 OR id = (SELECT max(id) FROM baton_flag_changes WHERE kind = 'flag' AND name = $1)
       ORDER BY id DESC`,
      [name, limit, HISTORY_MAX_BYTES],
    );
    return rows.map(toChange);
  }

  /**
   * Changes one flag: `edit` gets it as stored (row-locked) and returns its new definition, or null
   * to delete it. With `expectedVersion`, a flag at another version (0: none) is a conflict. An
   * edit that changes nothing records nothing. Returns the flag as it now is (undefined: deleted).
   */
  async write(
    name: string,
    opts: FlagWriteOptions,
    edit: FlagEdit,
  ): Promise<{ record: FlagRecord | undefined; change: FlagChange | undefined }> {
    return this.db.transaction(async (tx) => {
      await lockHead(tx);
      const [row] = (await tx.query<FlagRow>("SELECT * FROM baton_flags WHERE name = $1", [name])).rows;
      const current = row ? toRecord(row) : undefined;
      const actual = current?.version ?? 0;
      if (opts.expectedVersion !== undefined && opts.expectedVersion !== actual)
        throw new FlagConflictError(name, opts.expectedVersion, actual);
      const next = edit(current);
      if (next === null && !current) throw unknownFlag(name);
      return this.writeLocked(tx, current, name, next, opts.actor, opts.reason);
    });
  }

  /**
   * Takes the lock every flag write takes, for the rest of the caller's transaction (this store
   * made on it): what the scheduler holds while it picks the next due change, so that two control
   * planes apply due changes one after another, in their order.
   */
  lockWrites(): Promise<void> {
    return lockHead(this.db);
  }

  /**
   * Writes many flags and segments in one transaction (`baton flags apply`): all or nothing. Flags
   * and segments equal to what is stored are left alone.
   */
  async apply(
    flags: readonly Flag[],
    segments: readonly Segment[],
    actor: string,
  ): Promise<{ created: string[]; changed: string[]; unchanged: string[]; segments: number[] }> {
    return this.db.transaction(async (tx) => {
      await lockHead(tx);
      const out = { created: [] as string[], changed: [] as string[], unchanged: [] as string[] };
      const changedSegments: number[] = [];
      for (const segment of segments) {
        const [row] = (
          await tx.query<{ definition: Segment }>(
            "SELECT definition FROM baton_flag_segments WHERE id = $1 FOR UPDATE",
            [segment.id],
          )
        ).rows;
        if (row && canonicalJson(row.definition) === canonicalJson(segment)) continue;
        await tx.query(
          `INSERT INTO baton_flag_segments (id, definition) VALUES ($1, $2)
           ON CONFLICT (id) DO UPDATE SET definition = $2, updated_at = now()`,
          [segment.id, JSON.stringify(segment)],
        );
        await this.record(tx, {
          actor,
          action: "segment.changed",
          kind: "segment",
          name: String(segment.id),
          version: 0,
          before: row?.definition ?? null,
          after: segment,
          reason: null,
        });
        changedSegments.push(segment.id);
      }
      for (const flag of flags) {
        const [row] = (await tx.query<FlagRow>("SELECT * FROM baton_flags WHERE name = $1", [flag.name]))
          .rows;
        const current = row ? toRecord(row) : undefined;
        const { change } = await this.writeLocked(tx, current, flag.name, flag, actor);
        (!change ? out.unchanged : current ? out.changed : out.created).push(flag.name);
      }
      return { ...out, segments: changedSegments };
    });
  }

  /**
   * What `apply` would do, without writing: each flag created, changed or left alone (with its
   * definition before and after), and each segment created or changed. Read without the lock: a
   * preview, which the apply itself redoes under it.
   */
  async plan(flags: readonly Flag[], segments: readonly Segment[]): Promise<ApplyPlan> {
    const stored = new Map((await this.list()).map((r) => [r.name, r.flag]));
    const storedSegments = new Map((await this.segments()).map((s) => [s.id, s]));
    const plan: ApplyPlan = { created: [], changed: [], unchanged: [], segments: [], changes: [] };
    for (const segment of segments) {
      const before = storedSegments.get(segment.id) ?? null;
      if (before && canonicalJson(before) === canonicalJson(segment)) continue;
      plan.segments.push(segment.id);
      plan.changes.push({ kind: "segment", name: String(segment.id), before, after: segment });
    }
    for (const flag of flags) {
      const before = stored.get(flag.name) ?? null;
      if (before && canonicalJson(before) === canonicalJson(flag)) {
        plan.unchanged.push(flag.name);
        continue;
      }
      (before ? plan.changed : plan.created).push(flag.name);
      plan.changes.push({ kind: "flag", name: flag.name, before, after: flag });
    }
    return plan;
  }

  /**
   * Deletes a segment no flag uses (a strategy naming a missing segment would be off for everyone,
   * silently); the flags that use it are named in the refusal.
   */
  async deleteSegment(id: number, actor: string, reason?: string): Promise<Segment> {
    return this.db.transaction(async (tx) => {
      await lockHead(tx);
      const [row] = (
        await tx.query<{ definition: Segment }>(
          "SELECT definition FROM baton_flag_segments WHERE id = $1 FOR UPDATE",
          [id],
        )
      ).rows;
      if (!row) throw unknownSegment(id);
      const users = (
        await tx.query<{ name: string }>(
          `SELECT name FROM baton_flags f WHERE EXISTS (
             SELECT 1 FROM jsonb_array_elements(f.definition->'strategies') s
              WHERE jsonb_typeof(s->'segments') = 'array' AND s->'segments' @> to_jsonb($1::int))
           ORDER BY name`,
          [id],
        )
      ).rows.map((r) => r.name);
      if (users.length > 0)
        throw new BatonControlError(
          "BATON_SEGMENT_IN_USE",
          `segment ${id} is used by ${users.length === 1 ? "flag" : "flags"} ${users.join(", ")}; take it out of their strategies first`,
        );
      await tx.query("DELETE FROM baton_flag_segments WHERE id = $1", [id]);
      await this.record(tx, {
        actor,
        action: "segment.deleted",
        kind: "segment",
        name: String(id),
        version: 0,
        before: row.definition,
        after: null,
        reason: reason ?? null,
      });
      return row.definition;
    });
  }

  private async writeLocked(
    tx: SqlClient,
    current: FlagRecord | undefined,
    name: string,
    next: Flag | null,
    actor: string,
    reason?: string | undefined,
  ): Promise<{ record: FlagRecord | undefined; change: FlagChange | undefined }> {
    if (next && current && canonicalJson(next) === canonicalJson(current.flag))
      return { record: current, change: undefined };
    if (next) await this.assertSegmentsExist(tx, next);
    let record: FlagRecord | undefined;
    if (next === null) {
      await tx.query("DELETE FROM baton_flags WHERE name = $1", [name]);
    } else {
      const [row] = (
        await tx.query<FlagRow>(
          `INSERT INTO baton_flags (name, version, definition, updated_by) VALUES ($1, 1, $2, $3)
           ON CONFLICT (name) DO UPDATE
             SET version = baton_flags.version + 1, definition = $2, updated_at = now(), updated_by = $3
           RETURNING *`,
          [name, JSON.stringify(next), actor],
        )
      ).rows;
      record = toRecord(row!);
    }
    const change = await this.record(tx, {
      actor,
      action: next === null ? "flag.deleted" : current ? "flag.changed" : "flag.created",
      kind: "flag",
      name,
      version: record?.version ?? 0,
      before: current?.flag ?? null,
      after: record?.flag ?? null,
      reason: reason ?? null,
    });
    return { record, change };
  }

  /** A strategy that names a segment that is not stored would be off for everyone, silently. */
  private async assertSegmentsExist(tx: SqlClient, flag: Flag): Promise<void> {
    const wanted = flag.strategies.flatMap((s, i) => (s.segments ?? []).map((id, j) => ({ id, i, j })));
    if (wanted.length === 0) return;
    const { rows } = await tx.query<{ id: number }>("SELECT id FROM baton_flag_segments WHERE id = ANY($1)", [
      wanted.map((w) => w.id),
    ]);
    const known = new Set(rows.map((r) => Number(r.id)));
    const missing = wanted.find((w) => !known.has(w.id));
    if (missing) {
      const field = `strategies[${missing.i}].segments[${missing.j}]`;
      throw badRequest(field, `flag ${flag.name}: ${field}: no segment with id ${missing.id}`);
    }
  }

  /** The change row, the head, and the audit event: in the caller's transaction. */
  private async record(tx: SqlClient, change: Omit<FlagChange, "id" | "at">): Promise<FlagChange> {
    const [head] = (
      await tx.query<{ change_id: string }>(
        "UPDATE baton_flag_head SET change_id = change_id + 1 RETURNING change_id",
      )
    ).rows;
    const id = Number(head!.change_id);
    const [row] = (
      await tx.query<ChangeRow>(
        `INSERT INTO baton_flag_changes (id, actor, action, kind, name, version, before, after, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
        [
          id,
          change.actor,
          change.action,
          change.kind,
          change.name,
          change.version,
          change.before === null ? null : JSON.stringify(change.before),
          change.after === null ? null : JSON.stringify(change.after),
          change.reason,
        ],
      )
    ).rows;
    await new AuditLog(tx).append({
      actor: change.actor,
      action: change.action,
      service: this.service,
      details: {
        [change.kind]: change.kind === "segment" ? Number(change.name) : change.name,
        ...(change.kind === "flag" ? { version: change.version } : {}),
        changeId: id,
        before: change.before,
        after: change.after,
        ...(change.reason !== null ? { reason: change.reason } : {}),
      },
    });
    return toChange(row!);
  }
}

/** Serialises flag writes: one at a time, so change ids commit in order. */
async function lockHead(tx: SqlClient): Promise<void> {
  const { rows } = await tx.query("SELECT change_id FROM baton_flag_head FOR UPDATE");
  if (rows.length === 0) throw new Error("the flag store is not initialised (run migrate first)");
}

interface FlagRow {
  name: string;
  version: number;
  definition: Flag;
  created_at: Date;
  updated_at: Date;
  updated_by: string;
}

interface ChangeRow {
  id: string;
  at: Date;
  actor: string;
  action: FlagChange["action"];
  kind: FlagChange["kind"];
  name: string;
  version: number;
  before: Flag | Segment | null;
  after: Flag | Segment | null;
  reason: string | null;
}

function toRecord(r: FlagRow): FlagRecord {
  return {
    name: r.name,
    version: r.version,
    flag: r.definition,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    updatedBy: r.updated_by,
  };
}

function toChange(r: ChangeRow): FlagChange {
  return {
    id: Number(r.id),
    at: r.at.toISOString(),
    actor: r.actor,
    action: r.action,
    kind: r.kind,
    name: r.name,
    version: r.version,
    before: r.before,
    after: r.after,
    reason: r.reason,
  };
}
