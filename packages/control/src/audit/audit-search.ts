import type { SqlClient } from "../state/sql-client.js";
import { type AuditRecord, type AuditRow, toRecord } from "./audit-log.js";

/** Which audit events to list; every field given narrows the list. */
export interface AuditSearch {
  /** An action (`release.started`), or a prefix of one (`release.`). */
  action?: { value: string; prefix: boolean };
  actor?: string;
  service?: string;
  version?: string;
  /** ISO times (as `toISOString` writes them): `since` inclusive, `until` exclusive. */
  since?: string;
  until?: string;
  /** Text anywhere in the event: its action, actor, service, version, strategy or details. */
  text?: string;
  /** Only events before this sequence number (the previous page's `next`). */
  before?: number;
  limit: number;
}

export interface AuditPage {
  /** Newest first. */
  events: AuditRecord[];
  /** `before` for the next (older) page; null when this page is the last. */
  next: number | null;
  /** The chain's end as its head row records it: the last event's number and hash. */
  head: { seq: number; hash: string };
}

/**
 * One page of the audit log, newest first, by keyset (`seq < before`): a page does not shift when
 * events are appended meanwhile, and costs the same however far back it is. `at` is compared as
 * text: every event's is written by `toISOString`, whose strings sort as their times do.
 */
export async function searchAudit(db: SqlClient, search: AuditSearch): Promise<AuditPage> {
  const where: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (search.action)
    where.push(
      search.action.prefix
        ? `starts_with(action, ${param(search.action.value)})`
        : `action = ${param(search.action.value)}`,
    );
  if (search.actor !== undefined) where.push(`actor = ${param(search.actor)}`);
  if (search.service !== undefined) where.push(`service = ${param(search.service)}`);
  if (search.version !== undefined) where.push(`version = ${param(search.version)}`);
  if (search.since !== undefined) where.push(`at >= ${param(search.since)}`);
  if (search.until !== undefined) where.push(`at < ${param(search.until)}`);
  if (search.before !== undefined) where.push(`seq < ${param(search.before)}`);
  // strpos, not LIKE: the text's own % and _ mean themselves.
  if (search.text !== undefined)
    where.push(
      `strpos(lower(concat_ws(' ', action, actor, service, version, strategy, details::text)), lower(${param(search.text)})) > 0`,
    );
  const { rows } = await db.query<AuditRow>(
    `SELECT * FROM baton_audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY seq DESC LIMIT ${param(search.limit + 1)}`,
    params,
  );
  const [head] = (await db.query<{ seq: string; hash: string }>("SELECT seq, hash FROM baton_audit_head"))
    .rows;
  const events = rows.slice(0, search.limit).map(toRecord);
  return {
    events,
    next: rows.length > search.limit ? events.at(-1)!.seq : null,
    head: { seq: Number(head?.seq ?? 0), hash: head?.hash ?? "" },
  };
}
