import { ident, type SqlSession } from "../sql-client.js";
import type { SchemaModel } from "./schema-model.js";

/**
 * A version of the schema as a schema of views, one per table, each column under the name that
 * version knows. Views over one table are updatable in PostgreSQL, so applications read and write
 * through them; a column an INSERT leaves out takes the real column's default.
 */
export async function createVersionSchema(
  session: SqlSession,
  schema: string,
  versionSchema: string,
  model: SchemaModel,
): Promise<void> {
  await session.query(`DROP SCHEMA IF EXISTS ${ident(versionSchema)} CASCADE`);
  await session.query(`CREATE SCHEMA ${ident(versionSchema)}`);
  for (const t of model.tables) {
    const cols = t.columns.map((c) =>
      c.physical === c.name ? ident(c.name) : `${ident(c.physical)} AS ${ident(c.name)}`,
    );
    await session.query(
      `CREATE VIEW ${ident(versionSchema)}.${ident(t.name)} AS SELECT ${cols.join(", ")} FROM ${ident(schema)}.${ident(t.physical)}`,
    );
  }
}

export async function dropVersionSchema(session: SqlSession, versionSchema: string): Promise<void> {
  await session.query(`DROP SCHEMA IF EXISTS ${ident(versionSchema)} CASCADE`);
}
