import { ident } from "./sql-client.js";

/**
 * The `search_path` an application of one version uses: its version schema first, so that its
 * queries see the tables under the names that version knows. For node-postgres, pass it as
 * `options: \`-c search_path=${searchPathFor("public_02_rename")}\``; for postgres.js as
 * `connection: { search_path: searchPathFor(...) }`. With no migration yet, the plain schema.
 */
export function searchPathFor(versionSchema: string | null, schema = "public"): string {
  return versionSchema ? `${ident(versionSchema)},${ident(schema)}` : ident(schema);
}
