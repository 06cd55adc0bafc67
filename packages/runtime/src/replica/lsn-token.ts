/**
 * A read-your-writes token: the primary's WAL position after a session's write, as PostgreSQL
 * prints an LSN ("16/B374D848"). Only hexadecimal digits and one slash, so it travels as it is in
 * a cookie, a header or a query string.
 */

/** Thrown for a token that is not an LSN: it came from a client, so it is checked, never trusted. */
export class InvalidLsnTokenError extends Error {
  override readonly name = "InvalidLsnTokenError";
  readonly code = "BATON_INVALID_LSN_TOKEN";
}

// PostgreSQL's pg_lsn text form: two 32-bit halves in hex.
const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** The token for an LSN (a bigint, as `parseLsnToken` returns), e.g. "16/B374D848". */
export function formatLsnToken(lsn: bigint): string {
  if (lsn < 0n || lsn > 0xffff_ffff_ffff_ffffn) throw new RangeError(`LSN out of range: ${lsn}`);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/**
 * The LSN in a token (or in anything PostgreSQL prints as `pg_lsn`). A malformed one throws
 * `InvalidLsnTokenError` naming what was wrong; its text is quoted shortened, as it may be hostile.
 */
export function parseLsnToken(token: string): bigint {
  if (typeof token !== "string")
    throw new InvalidLsnTokenError(`read-your-writes token must be a string, got ${typeof token}`);
  const match = LSN.exec(token);
  if (!match) {
    const shown = JSON.stringify(token.length > 40 ? `${token.slice(0, 40)}…` : token);
    throw new InvalidLsnTokenError(
      `invalid read-your-writes token ${shown}: expected a PostgreSQL LSN such as "16/B374D848" (two groups of 1-8 hex digits)`,
    );
  }
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** A position given as a token or already parsed. */
export function toLsn(position: bigint | string): bigint {
  return typeof position === "bigint" ? position : parseLsnToken(position);
}
