/**
 * RE2 regular expressions (the syntax Unleash's REGEX operator uses; unleash-client runs them with
 * re2js) translated into JavaScript RegExps. Only whether a match exists matters to a constraint, and
 * for RE2's regular subset a backtracking engine finds a match exactly when RE2 does; what JavaScript
 * would accept but RE2 rejects (lookaround, backreferences) is refused, so such a constraint is false
 * as in Unleash. RE2's inline flags (?imsU) have no JavaScript equivalent on Node 20, so they are
 * applied while translating: anchors and `.` become explicit, case-insensitive letters become classes.
 */
export class Re2SyntaxError extends Error {
  constructor(pattern: string, reason: string) {
    super(`invalid RE2 regular expression ${JSON.stringify(pattern)}: ${reason}`);
    this.name = "Re2SyntaxError";
  }
}

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  U: boolean;
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\u{0}-\\u{7f}",
  blank: "\\t ",
  cntrl: "\\u{0}-\\u{1f}\\u{7f}",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};
const PERL_CLASSES: Record<string, string> = { d: "0-9", s: "\\t\\n\\f\\r ", w: "0-9A-Za-z_" };
const CONTROL_ESCAPES: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
const MAX_REPEAT = 1000;

const literal = (codePoint: number): string =>
  /[0-9A-Za-z]/.test(String.fromCodePoint(codePoint))
    ? String.fromCodePoint(codePoint)
    : `\\u{${codePoint.toString(16)}}`;

/** The other cases of a code point (simple case folding, as RE2's (?i) does). */
function caseVariants(codePoint: number): number[] {
  const char = String.fromCodePoint(codePoint);
  const variants = new Set<number>();
  for (const other of [char.toLowerCase(), char.toUpperCase()]) {
    const cp = other.codePointAt(0)!;
    if (other.length === String.fromCodePoint(cp).length && cp !== codePoint) variants.add(cp);
  }
  return [...variants];
}

function unicodeClass(name: string, negated: boolean): string {
  if (name === "Any") return negated ? "[^\\s\\S]" : "[\\s\\S]";
  const property = name.length <= 2 ? name : `Script=${name}`;
  return `\\${negated ? "P" : "p"}{${property}}`;
}

class Translator {
  private at = 0;
  constructor(private readonly pattern: string) {}

  fail(reason: string): never {
    throw new Re2SyntaxError(this.pattern, reason);
  }

  private peek(offset = 0): string | undefined {
    return this.pattern[this.at + offset];
  }

  private nextCodePoint(): number {
    const cp = this.pattern.codePointAt(this.at);
    if (cp === undefined) this.fail("unexpected end");
    this.at += cp > 0xffff ? 2 : 1;
    return cp;
  }

  /** An escape after its backslash: a class body (without brackets) or a single code point. */
  private escape(inClass: boolean): { cls: string; negated?: boolean } | { cp: number } {
    const c = this.pattern[this.at++];
    if (c === undefined) this.fail("trailing backslash");
    if (c in PERL_CLASSES) return { cls: PERL_CLASSES[c]! };
    const lower = c.toLowerCase();
    if (lower in PERL_CLASSES && c !== lower) return { cls: PERL_CLASSES[lower]!, negated: true };
    if (c in CONTROL_ESCAPES) return { cp: CONTROL_ESCAPES[c]! };
    if (c === "x") {
      const braced = /^\{([0-9A-Fa-f]{1,8})\}/.exec(this.pattern.slice(this.at));
      const plain = /^[0-9A-Fa-f]{2}/.exec(this.pattern.slice(this.at));
      const digits = braced ? braced[1]! : plain?.[0];
      if (!digits) this.fail("bad \\x escape");
      this.at += (braced ?? plain)![0].length;
      const cp = Number.parseInt(digits, 16);
      if (cp > 0x10ffff) this.fail("bad \\x escape");
      return { cp };
    }
    if (c >= "0" && c <= "7") {
      const octal = /^[0-7]{0,2}/.exec(this.pattern.slice(this.at))![0];
      if (c !== "0" && octal === "") this.fail("backreferences are not supported");
      this.at += octal.length;
      return { cp: Number.parseInt(c + octal, 8) };
    }
    if (c === "8" || c === "9") this.fail("backreferences are not supported");
    if (c === "p" || c === "P") {
      const braced = /^\{(\^?)([A-Za-z_]+)\}/.exec(this.pattern.slice(this.at));
      const single = /^[A-Za-z]/.exec(this.pattern.slice(this.at));
      if (!braced && !single) this.fail("bad \\p escape");
      this.at += (braced ?? single)![0].length;
      const name = braced ? braced[2]! : single![0];
      const negated = (c === "P") !== Boolean(braced?.[1]);
      return { cls: unicodeClass(name, negated) };
    }
    if (!inClass && /[AbBzQ]/.test(c)) return { cls: `\\${c}` };
    if (/[0-9A-Za-z]/.test(c)) this.fail(`unknown escape \\${c}`);
    this.at--;
    return { cp: this.nextCodePoint() };
  }

  private classItem(parts: string[]): number | undefined {
    if (this.peek() === "[" && this.peek(1) === ":") {
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.pattern.slice(this.at));
      if (posix) {
        const body = POSIX_CLASSES[posix[2]!];
        if (!body) this.fail(`unknown class [:${posix[2]}:]`);
        this.at += posix[0].length;
        parts.push(posix[1] ? `[^${body}]` : `[${body}]`);
        return undefined;
      }
    }
    if (this.peek() === "\\") {
      this.at++;
      const escaped = this.escape(true);
      if ("cp" in escaped) return escaped.cp;
      const body = escaped.cls.startsWith("\\p") || escaped.cls.startsWith("\\P") ? escaped.cls : null;
      parts.push(body ?? (escaped.negated ? `[^${escaped.cls}]` : `[${escaped.cls}]`));
      return undefined;
    }
    return this.nextCodePoint();
  }

  private characterClass(flags: Flags): string {
    const negated = this.peek() === "^";
    if (negated) this.at++;
    const parts: string[] = [];
    const ranges: Array<[number, number]> = [];
    let first = true;
    while (this.peek() !== "]" || first) {
      if (this.peek() === undefined) this.fail("missing closing ]");
      first = false;
      const low = this.classItem(parts);
      if (low === undefined) continue;
      if (this.peek() === "-" && this.peek(1) !== "]" && this.peek(1) !== undefined) {
        this.at++;
        const high = this.classItem(parts);
        if (high === undefined || high < low) this.fail("bad character class range");
        ranges.push([low, high]);
      } else {
        ranges.push([low, low]);
      }
    }
    this.at++;
    if (flags.i) {
      for (const [low, high] of [...ranges]) {
        // Folding a huge range code point by code point would be slow; such ranges span both cases anyway.
        if (high - low > 0x2000) continue;
        for (let cp = low; cp <= high; cp++) for (const v of caseVariants(cp)) ranges.push([v, v]);
      }
    }
    const body = ranges.map(([l, h]) => (l === h ? literal(l) : `${literal(l)}-${literal(h)}`)).join("");
    // Nested classes are unions; JavaScript's `v` flag is not on Node 20, so a union is an alternation.
    const own = body ? `[${body}]` : "";
    const union = [own, ...parts].filter(Boolean);
    if (!negated) return union.length === 1 ? union[0]! : `(?:${union.join("|") || "[^\\s\\S]"})`;
    if (parts.length === 0) return `[^${body}]`;
    return `(?:(?!${union.join("|")})[\\s\\S])`;
  }

  private repeat(): string | undefined {
    const c = this.peek();
    if (c === "*" || c === "+" || c === "?") {
      this.at++;
      return c;
    }
    if (c === "{") {
      const counted = /^\{(\d+)(,(\d*))?\}/.exec(this.pattern.slice(this.at));
      if (!counted) return undefined;
      const min = Number(counted[1]);
      const max = counted[3] ? Number(counted[3]) : min;
      if (min > MAX_REPEAT || max > MAX_REPEAT || max < min) this.fail("bad repetition count");
      this.at += counted[0].length;
      return counted[0];
    }
    return undefined;
  }

  private parseFlags(spec: string, flags: Flags): Flags {
    const next = { ...flags };
    let on = true;
    for (const f of spec) {
      if (f === "-") on = false;
      else if (f === "i" || f === "m" || f === "s" || f === "U") next[f] = on;
      else this.fail(`unknown flag ${f}`);
    }
    return next;
  }

  translate(initial: Flags): string {
    let out = "";
    let flags = initial;
    const stack: Flags[] = [];
    while (this.at < this.pattern.length) {
      const c = this.peek()!;
      let atom: string | undefined;
      if (c === "(") {
        this.at++;
        if (this.peek() === "?") {
          const group = /^\?(?:P?<([A-Za-z_][A-Za-z0-9_]*)>|([imsU-]*)(:|\)))/.exec(
            this.pattern.slice(this.at),
          );
          if (!group) this.fail("lookaround and other (? groups are not supported");
          this.at += group[0].length;
          if (group[3] === ")") {
            flags = this.parseFlags(group[2]!, flags);
            continue;
          }
          stack.push(flags);
          if (group[3] === ":") flags = this.parseFlags(group[2]!, flags);
        } else {
          stack.push(flags);
        }
        out += "(?:";
        continue;
      }
      if (c === ")") {
        this.at++;
        const outer = stack.pop();
        if (!outer) this.fail("unmatched )");
        flags = outer;
        atom = ")";
      } else if (c === "|") {
        this.at++;
        out += "|";
        continue;
      } else if (c === "^" || c === "$") {
        this.at++;
        const anchor =
          c === "^" ? (flags.m ? "(?<![^\\n])" : "(?<![\\s\\S])") : flags.m ? "(?![^\\n])" : "(?![\\s\\S])";
        out += anchor;
        continue;
      } else if (c === ".") {
        this.at++;
        atom = flags.s ? "[\\s\\S]" : "[^\\n]";
      } else if (c === "[") {
        this.at++;
        atom = this.characterClass(flags);
      } else if (c === "\\") {
        this.at++;
        if (this.peek() === "Q") {
          this.at++;
          const end = this.pattern.indexOf("\\E", this.at);
          const quoted = this.pattern.slice(this.at, end < 0 ? undefined : end);
          this.at = end < 0 ? this.pattern.length : end + 2;
          for (const ch of quoted) out += this.literalAtom(ch.codePointAt(0)!, flags);
          continue;
        }
        const escaped = this.escape(false);
        if ("cp" in escaped) atom = this.literalAtom(escaped.cp, flags);
        else if (escaped.cls === "\\A") atom = "(?<![\\s\\S])";
        else if (escaped.cls === "\\z") atom = "(?![\\s\\S])";
        else if (escaped.cls === "\\b" || escaped.cls === "\\B") atom = escaped.cls;
        else if (escaped.cls.startsWith("\\p") || escaped.cls.startsWith("\\P")) atom = escaped.cls;
        else atom = escaped.negated ? `[^${escaped.cls}]` : `[${escaped.cls}]`;
      } else if (c === "*" || c === "+" || c === "?" || (c === "{" && this.repeatAhead())) {
        this.fail("missing argument to repetition operator");
      } else {
        atom = this.literalAtom(this.nextCodePoint(), flags);
      }
      out += atom;
      const repetition = this.repeat();
      if (repetition) {
        const lazy = this.peek() === "?";
        if (lazy) this.at++;
        if (this.repeat() !== undefined) this.fail("invalid nested repetition operator");
        out += repetition + (lazy !== flags.U ? "?" : "");
      }
    }
    if (stack.length) this.fail("missing closing )");
    return out;
  }

  private repeatAhead(): boolean {
    return /^\{\d+(,\d*)?\}/.test(this.pattern.slice(this.at));
  }

  private literalAtom(cp: number, flags: Flags): string {
    const variants = flags.i ? caseVariants(cp) : [];
    return variants.length ? `[${[cp, ...variants].map(literal).join("")}]` : literal(cp);
  }
}

/** Compiles an RE2 pattern into an equivalent RegExp for match tests; throws Re2SyntaxError. */
export function compileRe2(pattern: string, caseInsensitive = false): RegExp {
  const source = new Translator(pattern).translate({ i: caseInsensitive, m: false, s: false, U: false });
  try {
    return new RegExp(source, "u");
  } catch (error) {
    throw new Re2SyntaxError(pattern, (error as Error).message);
  }
}
