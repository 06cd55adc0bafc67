import type { Node } from "libpg-query";
import { functionCalls, functionName } from "./ast.js";

/**
 * Functions known to be VOLATILE (a new value per row). A default calling one makes ADD COLUMN
 * compute it for every existing row, rewriting the table; PostgreSQL decides by pg_proc, which a
 * lint without a database cannot read, so this list holds the usual suspects in migrations.
 */
const VOLATILE = new Set([
  "random",
  "random_normal",
  "setseed",
  "gen_random_uuid",
  "uuidv4",
  "uuidv7",
  "uuid_generate_v1",
  "uuid_generate_v1mc",
  "uuid_generate_v4",
  "gen_random_bytes",
  "gen_salt",
  "clock_timestamp",
  "timeofday",
  "nextval",
  "currval",
  "lastval",
  "setval",
]);

/**
 * Functions known to be STABLE or IMMUTABLE: evaluated once for ADD COLUMN, whose value is then
 * stored in the catalog (PostgreSQL 11+), so no row is touched.
 */
const NOT_VOLATILE = new Set([
  "now",
  "transaction_timestamp",
  "statement_timestamp",
  "current_setting",
  "lower",
  "upper",
  "btrim",
  "ltrim",
  "rtrim",
  "concat",
  "concat_ws",
  "length",
  "abs",
  "round",
  "md5",
  "replace",
  "substr",
  "left",
  "right",
  "date_trunc",
  "timezone",
  "to_char",
  "to_date",
  "to_timestamp",
  "make_date",
  "make_interval",
  "make_timestamp",
  "make_timestamptz",
  "to_json",
  "to_jsonb",
  "json_build_object",
  "jsonb_build_object",
  "json_build_array",
  "jsonb_build_array",
  "uuid_nil",
  "uuid_generate_v3",
  "uuid_generate_v5",
]);

export type Volatility =
  | { kind: "not-volatile" }
  | { kind: "volatile"; fn: string }
  | { kind: "unknown"; fn: string };

/** Whether a default expression is volatile, from the functions it calls (constants and casts are not). */
export function volatilityOf(expr: Node | undefined): Volatility {
  let unknown: string | undefined;
  for (const call of functionCalls(expr)) {
    const fn = functionName(call);
    if (VOLATILE.has(fn)) return { kind: "volatile", fn };
    if (!NOT_VOLATILE.has(fn)) unknown ??= fn;
  }
  return unknown ? { kind: "unknown", fn: unknown } : { kind: "not-volatile" };
}

/** Column types that are an integer with a sequence default: adding one numbers every existing row. */
export const SERIAL_TYPES = new Set(["smallserial", "serial2", "serial", "serial4", "bigserial", "serial8"]);
