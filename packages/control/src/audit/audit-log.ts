import { createHash } from "node:crypto";
import type { SqlClient } from "../state/sql-client.js";
import { type AuditPage, type AuditSearch, searchAudit } from "./audit-search.js";
import { canonicalJson } from "./canonical-json.js";

/** One thing that happened, as the audit log keeps it. */
export interface AuditEvent {
  actor: string;
  action: string;
  service: string;
  version?: string;
  strategy?: string;
  /** Anything else worth keeping: file digests, analysis numbers, outcome. */
  details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEvent {
  seq: number;
  at: string;
  prevHash: string;
  hash: string;
}

export interface AuditProblem {
  seq: number;
  problem: "changed" | "removed" | "out-of-order" | "truncated";
  detail: string;
}

const GENESIS = "0".repeat(64);

function digest(prevHash: string, r: Omit<AuditRecord, "hash" | "prevHash">): string {
  const body = canonicalJson({
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    service: r.service,
    version: r.version ?? null,
    strategy: r.strategy ?? null,
    details: r.details ?? {},
  });
  return createHash("sha256").update(prevHash).update("\n").update(body).digest("hex");
}

/**
 * An append-only, hash-chained audit log in PostgreSQL. Each row carries the hash of the row
 * before it; a separate head row records the last sequence number and hash, so that removing the
 * newest rows is caught too. Appends are serialised by locking the head row.
 */
export class AuditLog {
  constructor(private readonly db: SqlClient) {}

  async migrate(): Promise<void> {
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_audit (
        seq bigint PRIMARY KEY,
        at text NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        service text NOT NULL,
        version text,
        strategy text,
        details jsonb NOT NULL DEFAULT '{}',
        prev_hash text NOT NULL,
        hash text NOT NULL
      )`);
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_audit_head (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        seq bigint NOT NULL,
        hash text NOT NULL
      )`);
    await this.db.query(
      `INSERT INTO baton_audit_head (id, seq, hash) VALUES (true, 0, $1) ON CONFLICT DO NOTHING`,
      [GENESIS],
    );
  }

  /** Appends one event (in its own transaction) and returns it as stored. */
  async append(event: AuditEvent): Promise<AuditRecord> {
    return this.db.transaction(async (tx) => {
      const [head] = (
        await tx.query<{ seq: string; hash: string }>("SELECT seq, hash FROM baton_audit_head FOR UPDATE")
      ).rows;
      if (!head) throw new Error("audit log is not initialised (run migrate first)");
      const base = {
        seq: Number(head.seq) + 1,
        at: new Date().toISOString(),
        actor: event.actor,
        action: event.action,
        service: event.service,
        version: event.version,
        strategy: event.strategy,
        details: event.details ?? {},
      };
      const hash = digest(head.hash, base);
      await tx.query(
        `INSERT INTO baton_audit (seq, at, actor, action, service, version, strategy, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          base.seq,
          base.at,
          base.actor,
          base.action,
          base.service,
          base.version ?? null,
          base.strategy ?? null,
          base.details,
          head.hash,
          hash,
        ],
      );
      await tx.query("UPDATE baton_audit_head SET seq = $1, hash = $2", [base.seq, hash]);
      return { ...base, prevHash: head.hash, hash };
    });
  }

  async list(limit = 100): Promise<AuditRecord[]> {
    const rows = await this.db.query<AuditRow>("SELECT * FROM baton_audit ORDER BY seq DESC LIMIT $1", [
      limit,
    ]);
    return rows.rows.map(toRecord).reverse();
  }

  /** Events matching `search`, newest first, a page at a time (`GET /v1/audit`). */
  search(search: AuditSearch): Promise<AuditPage> {
    return searchAudit(this.db, search);
  }

  /**
   * Walks the chain from the first row and reports every row that was changed, removed or
   * inserted out of order, and newest rows that were cut off. An empty list means intact.
   */
  async verify(): Promise<{ rows: number; problems: AuditProblem[] }> {
    const { rows } = await this.db.query<AuditRow>("SELECT * FROM baton_audit ORDER BY seq");
    const [head] = (
      await this.db.query<{ seq: string; hash: string }>("SELECT seq, hash FROM baton_audit_head")
    ).rows;
    const problems: AuditProblem[] = [];
    let prevSeq = 0;
    let prevHash = GENESIS;
    for (const row of rows.map(toRecord)) {
      if (row.seq !== prevSeq + 1) {
        problems.push({
          seq: row.seq,
          problem: "removed",
          detail: `rows ${prevSeq + 1}..${row.seq - 1} are missing`,
        });
      } else if (row.prevHash !== prevHash) {
        problems.push({
          seq: row.seq,
          problem: "out-of-order",
          detail: "does not follow the row before it in the chain",
        });
      }
      if (digest(row.prevHash, row) !== row.hash) {
        problems.push({ seq: row.seq, problem: "changed", detail: "its content no longer matches its hash" });
      }
      prevSeq = row.seq;
      prevHash = row.hash;
    }
    if (head && (Number(head.seq) !== prevSeq || head.hash !== prevHash)) {
      problems.push({
        seq: Number(head.seq),
        problem: "truncated",
        detail: `the log should end at row ${head.seq}, it ends at row ${prevSeq}`,
      });
    }
    return { rows: rows.length, problems };
  }
}

export interface AuditRow {
  seq: string;
  at: string;
  actor: string;
  action: string;
  service: string;
  version: string | null;
  strategy: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export function toRecord(r: AuditRow): AuditRecord {
  return {
    seq: Number(r.seq),
    at: r.at,
    actor: r.actor,
    action: r.action,
    service: r.service,
    ...(r.version !== null ? { version: r.version } : {}),
    ...(r.strategy !== null ? { strategy: r.strategy } : {}),
    details: r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
