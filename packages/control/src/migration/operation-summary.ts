import type { OperationSpec } from "@baton/migrate";

/**
 * One operation of a migration in one line: its kind and what it acts on, e.g.
 * `add_column orders.euros`, `rename_column users.user_email → email`, `sql (runs at complete)`.
 */
export function operationSummary(spec: OperationSpec): string {
  switch (spec.op) {
    case "create_table":
      return `create_table ${spec.name} (${spec.columns.length} column${spec.columns.length === 1 ? "" : "s"})`;
    case "drop_table":
      return `drop_table ${spec.name}`;
    case "rename_table":
      return `rename_table ${spec.from} → ${spec.to}`;
    case "add_column":
      return `add_column ${spec.table}.${spec.column.name}${spec.up ? " (backfilled)" : ""}`;
    case "drop_column":
      return `drop_column ${spec.table}.${spec.column}`;
    case "rename_column":
      return `rename_column ${spec.table}.${spec.from} → ${spec.to}`;
    case "alter_column": {
      const what = [
        spec.name !== undefined && `rename to ${spec.name}`,
        spec.type !== undefined && `type ${spec.type}`,
        spec.nullable !== undefined && (spec.nullable ? "nullable" : "not null"),
        spec.default !== undefined && "default",
        spec.unique && "unique",
        spec.check && "check",
        spec.references && "references",
      ].filter(Boolean);
      return `alter_column ${spec.table}.${spec.column}${what.length ? ` (${what.join(", ")})` : ""}`;
    }
    case "create_index":
      return `create_index ${spec.name} on ${spec.table}`;
    case "drop_index":
      return `drop_index ${spec.name}`;
    case "create_constraint":
      return `create_constraint ${spec.table}.${spec.name} (${spec.type})`;
    case "drop_constraint":
    case "drop_multicolumn_constraint":
      return `${spec.op} ${spec.table}.${spec.name}`;
    case "rename_constraint":
      return `rename_constraint ${spec.table}.${spec.from} → ${spec.to}`;
    case "set_replica_identity":
      return `set_replica_identity ${spec.table} (${spec.identity.type})`;
    case "sql":
      return `sql (runs at ${spec.onComplete ? "complete" : "start"}${spec.down ? "" : "; cannot be undone"})`;
    default:
      return (spec as { op: string }).op;
  }
}
