import type { Node } from "libpg-query";
import type { SourceText } from "./source-text.js";

/** One top-level statement, located by UTF-8 byte offsets into the text. */
export interface ParsedStatement {
  node: Node;
  start: number;
  end: number;
}

export type ParseOutcome =
  | { ok: true; statements: ParsedStatement[] }
  | { ok: false; message: string /** Byte offset the parser points at. */; at: number };

type LibPgQuery = typeof import("libpg-query");
let loading: Promise<LibPgQuery> | undefined;

/** The WASM parser is loaded once per process; loading takes ~50 ms, parsing then is synchronous. */
function parser(): Promise<LibPgQuery> {
  loading ??= import("libpg-query").then(async (q) => {
    await q.loadModule();
    return q;
  });
  return loading;
}

/** Parses with PostgreSQL's own parser; a syntax error is an outcome, not an exception. */
export async function parseSql(source: SourceText): Promise<ParseOutcome> {
  // The parser refuses an empty string but accepts whitespace and comments, both meaning "nothing".
  if (source.text.trim() === "") return { ok: true, statements: [] };
  const q = await parser();
  let result: ReturnType<LibPgQuery["parseSync"]>;
  try {
    result = q.parseSync(source.text);
  } catch (err) {
    if (!q.hasSqlDetails(err)) throw err;
    // The cursor counts characters (the server converts its byte offset), unlike stmt_location.
    return { ok: false, message: err.message, at: source.byteOfCodePoint(err.sqlDetails!.cursorPosition) };
  }
  return {
    ok: true,
    statements: (result.stmts ?? []).map((raw) => {
      // Offsets of 0 are left out of the parse tree, and a length of 0 means "to the end".
      let start = raw.stmt_location ?? 0;
      const end = raw.stmt_len ? start + raw.stmt_len : source.byteLength;
      while (start < end && isSpace(source.bytes[start]!)) start++;
      return { node: raw.stmt!, start, end };
    }),
  };
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d || byte === 0x0c;
}
