/** 1-based line and column; columns count code points, as editors do, not UTF-8 bytes. */
export interface SourcePosition {
  line: number;
  column: number;
}

/**
 * SQL text with the position arithmetic the parser needs: PostgreSQL reports statement and node
 * locations as UTF-8 byte offsets, but error cursors as character counts, and users want lines.
 */
export class SourceText {
  readonly bytes: Buffer;
  /** Byte offset where each line starts. */
  private readonly lineStarts: number[] = [0];

  constructor(readonly text: string) {
    this.bytes = Buffer.from(text, "utf8");
    for (let i = 0; i < this.bytes.length; i++) if (this.bytes[i] === 0x0a) this.lineStarts.push(i + 1);
  }

  /** Position of a byte offset (clamped into the text). */
  positionOfByte(offset: number): SourcePosition {
    const at = Math.max(0, Math.min(offset, this.bytes.length));
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    const before = this.bytes.subarray(this.lineStarts[lo]!, at).toString("utf8");
    return { line: lo + 1, column: codePoints(before) + 1 };
  }

  /** Byte offset of the n-th code point (0-based), as in the parser's error cursor. */
  byteOfCodePoint(n: number): number {
    let bytes = 0;
    let seen = 0;
    for (const ch of this.text) {
      if (seen++ >= n) break;
      bytes += Buffer.byteLength(ch, "utf8");
    }
    return bytes;
  }

  /** The text between two byte offsets; `end` undefined means to the end. */
  sliceBytes(start: number, end?: number): string {
    return this.bytes.subarray(start, end).toString("utf8");
  }

  get byteLength(): number {
    return this.bytes.length;
  }
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** A statement as one short line for messages: whitespace collapsed, cut at `max` characters. */
export function oneLine(statement: string, max = 100): string {
  const flat = statement.replace(/\s+/g, " ").trim();
  const chars = [...flat];
  return chars.length <= max ? flat : chars.slice(0, max - 1).join("") + "…";
}
