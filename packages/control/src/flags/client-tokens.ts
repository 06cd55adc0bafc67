import { randomBytes } from "node:crypto";
import { hashToken } from "../api/bearer-token.js";
import { AuditLog } from "../audit/audit-log.js";
import { BatonControlError } from "../errors.js";
import type { SqlClient } from "../state/sql-client.js";

export interface ClientTokenInfo {
  name: string;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
}

/** How often a token's "last used" is written at most: not once per SDK request. */
const LAST_USED_EVERY_MS = 60_000;

/**
 * Client tokens of the client API, for SDKs: they read flags and report outcomes and release
 * metrics. Only their SHA-256 is stored; a token is
 * shown once, when it is made. Known digests are kept in memory, so checking a request costs no
 * query.
 */
export class ClientTokens {
  private byDigest = new Map<string, { name: string; lastWritten: number }>();

  constructor(
    private readonly db: SqlClient,
    private readonly service: string,
  ) {}

  async migrate(): Promise<void> {
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_flag_tokens (
        name text PRIMARY KEY,
        sha256 text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        last_used_at timestamptz
      )`);
    const { rows } = await this.db.query<{ name: string; sha256: string }>(
      "SELECT name, sha256 FROM baton_flag_tokens",
    );
    this.byDigest = new Map(rows.map((r) => [r.sha256, { name: r.name, lastWritten: 0 }]));
  }

  /** Makes a token; the only time it exists in clear. */
  async create(name: string, actor: string): Promise<{ name: string; token: string; createdAt: string }> {
    const token = `baton-client.${randomBytes(32).toString("base64url")}`;
    const digest = hashToken(token);
    const createdAt = await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ created_at: Date }>(
        `INSERT INTO baton_flag_tokens (name, sha256, created_by) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING RETURNING created_at`,
        [name, digest, actor],
      );
      if (!rows[0])
        throw new BatonControlError(
          "BATON_FLAG_TOKEN_EXISTS",
          `a client token named ${name} already exists; choose another name`,
        );
      await new AuditLog(tx).append({
        actor,
        action: "flag.token-created",
        service: this.service,
        details: { token: name },
      });
      return rows[0].created_at.toISOString();
    });
    this.byDigest.set(digest, { name, lastWritten: 0 });
    return { name, token, createdAt };
  }

  /** Revokes a token: refused from the next request on (this control plane checks from memory). */
  async revoke(name: string, actor: string): Promise<{ name: string; revoked: true }> {
    const digest = await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ sha256: string }>(
        "DELETE FROM baton_flag_tokens WHERE name = $1 RETURNING sha256",
        [name],
      );
      if (!rows[0])
        throw new BatonControlError(
          "BATON_UNKNOWN_FLAG_TOKEN",
          `no client token is named ${name} (baton flags token list shows them)`,
        );
      await new AuditLog(tx).append({
        actor,
        action: "flag.token-revoked",
        service: this.service,
        details: { token: name },
      });
      return rows[0].sha256;
    });
    this.byDigest.delete(digest);
    return { name, revoked: true };
  }

  async list(): Promise<ClientTokenInfo[]> {
    const { rows } = await this.db.query<{
      name: string;
      created_at: Date;
      created_by: string;
      last_used_at: Date | null;
    }>("SELECT name, created_at, created_by, last_used_at FROM baton_flag_tokens ORDER BY name");
    return rows.map((r) => ({
      name: r.name,
      createdAt: r.created_at.toISOString(),
      createdBy: r.created_by,
      lastUsedAt: r.last_used_at?.toISOString() ?? null,
    }));
  }

  /**
   * The token's name when `authorization` carries a client token: the raw token (as Unleash's SDKs
   * send it) or `Bearer <token>`.
   */
  check(authorization: string | undefined): string | undefined {
    if (!authorization) return undefined;
    const token = authorization.replace(/^Bearer\s+/i, "").trim();
    if (!token) return undefined;
    const digest = hashToken(token);
    const found = this.byDigest.get(digest);
    // Looked up by digest: what a lookup's timing could tell is about the digest, not the token.
    if (!found) return undefined;
    const now = Date.now();
    if (now - found.lastWritten > LAST_USED_EVERY_MS) {
      found.lastWritten = now;
      void this.db
        .query("UPDATE baton_flag_tokens SET last_used_at = now() WHERE sha256 = $1", [digest])
        .catch(() => {});
    }
    return found.name;
  }
}
