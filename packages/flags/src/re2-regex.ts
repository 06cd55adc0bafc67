/**
 * RE2 regular expressions (the syntax Unleash's REGEX operator uses; unleash-client runs them with
 * re2js), matched in time linear in the subject, as RE2 promises: a REGEX constraint is evaluated
 * inside every application's `isEnabled`, on context values that users send (an email, a user
 * agent), so a backtracking engine would let one string such as `aaaa…b` against `(a+)+$` stall
 * the application for minutes. The pattern is parsed here (what RE2 rejects, such as lookaround and
 * backreferences, is refused, so such a constraint is false as in Unleash) and compiled into a
 * small program run as a Thompson NFA (a Pike VM without captures: only whether a match exists
 * matters to a constraint). RE2's limits apply: repetition counts up to 1000 (their product, when
 * nested), nesting up to 1000 levels, and a bounded program size, so that compiling is cheap too.
 */
export class Re2SyntaxError extends Error {
  constructor(pattern: string, reason: string) {
    const shown = pattern.length > 80 ? `${pattern.slice(0, 80)}… (${pattern.length} characters)` : pattern;
    super(`invalid RE2 regular expression ${JSON.stringify(shown)}: ${reason}`);
    this.name = "Re2SyntaxError";
  }
}

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  U: boolean;
}

type Range = readonly [number, number];
type CharTest = (codePoint: number) => boolean;

const MAX_REPEAT = 1000;
const MAX_NESTING = 1000;
/**
 * Instructions a pattern may compile to (a character class counting one per part), which bounds the
 * work per character of the subject; RE2 likewise refuses an "expression too large".
 */
export const MAX_RE2_PROGRAM = 10_000;

const r = (low: string, high = low): Range => [low.codePointAt(0)!, high.codePointAt(0)!];
const POSIX_CLASSES: Record<string, readonly Range[]> = {
  alnum: [r("0", "9"), r("A", "Z"), r("a", "z")],
  alpha: [r("A", "Z"), r("a", "z")],
  ascii: [[0, 0x7f]],
  blank: [r("\t"), r(" ")],
  cntrl: [
    [0, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [r("0", "9")],
  graph: [r("!", "~")],
  lower: [r("a", "z")],
  print: [r(" ", "~")],
  punct: [r("!", "/"), r(":", "@"), r("[", "`"), r("{", "~")],
  space: [r("\t", "\r"), r(" ")],
  upper: [r("A", "Z")],
  word: [r("0", "9"), r("A", "Z"), r("a", "z"), r("_")],
  xdigit: [r("0", "9"), r("A", "F"), r("a", "f")],
};
const PERL_CLASSES: Record<string, readonly Range[]> = {
  d: [r("0", "9")],
  s: [r("\t", "\n"), r("\f", "\r"), r(" ")],
  w: POSIX_CLASSES.word!,
};
const CONTROL_ESCAPES: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };

// ---------------------------------------------------------------------------------------------
// Characters and classes: each becomes a test of one code point.

/** Whether `cp` is in sorted, merged `ranges` (flat: low, high, low, high, ...). */
function inRanges(ranges: Int32Array, cp: number): boolean {
  let lo = 0;
  let hi = ranges.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < ranges[2 * mid]!) hi = mid - 1;
    else if (cp > ranges[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

function rangeTest(ranges: readonly Range[]): CharTest {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: number[] = [];
  for (const [low, high] of sorted) {
    const last = merged.length - 1;
    if (last > 0 && low <= merged[last]! + 1) merged[last] = Math.max(merged[last]!, high);
    else merged.push(low, high);
  }
  const flat = Int32Array.from(merged);
  if (flat.length === 2) {
    const [low, high] = [flat[0]!, flat[1]!];
    return (cp) => cp >= low && cp <= high;
  }
  return (cp) => inRanges(flat, cp);
}

let caseOrbits: Map<number, number[]> | undefined;
const asciiOrbits: (readonly number[])[] = [];
const NO_ORBIT: readonly number[] = [];

/**
 * The other code points `cp` matches case-insensitively: its simple case-folding orbit (k, K and
 * the Kelvin sign K; s, S and ſ), built once from the runtime's Unicode case mappings. Dotted and
 * dotless i are left out, as in RE2 (their folding is Turkic only).
 */
function orbitOf(cp: number): readonly number[] {
  if (!caseOrbits) {
    // Union-find over "maps to under toLowerCase/toUpperCase" (single code points only).
    const parent = new Map<number, number>();
    const find = (code: number): number => {
      let root = code;
      for (let up = parent.get(root); up !== undefined && up !== root; up = parent.get(root)) root = up;
      return root;
    };
    for (let code = 0; code < 0x20000; code++) {
      if ((code >= 0xd800 && code <= 0xdfff) || code === 0x130 || code === 0x131) continue;
      const char = String.fromCodePoint(code);
      for (const other of [char.toLowerCase(), char.toUpperCase()]) {
        const mapped = other.codePointAt(0)!;
        if (mapped === code || other.length !== String.fromCodePoint(mapped).length) continue;
        const [a, b] = [find(code), find(mapped)];
        if (!parent.has(a)) parent.set(a, a);
        if (!parent.has(b)) parent.set(b, b);
        if (a !== b) parent.set(Math.max(a, b), Math.min(a, b));
      }
    }
    const orbits = new Map<number, number[]>();
    caseOrbits = new Map();
    for (const code of parent.keys()) {
      const root = find(code);
      let orbit = orbits.get(root);
      if (!orbit) orbits.set(root, (orbit = []));
      orbit.push(code);
      caseOrbits.set(code, orbit);
    }
    for (let code = 0; code < 128; code++) asciiOrbits[code] = caseOrbits.get(code) ?? NO_ORBIT;
  }
  return cp < 128 ? asciiOrbits[cp]! : (caseOrbits.get(cp) ?? NO_ORBIT);
}

/**
 * `test` as RE2's (?i) applies it: true when any code point of `cp`'s case orbit passes. Answers
 * for ASCII are kept once worked out (in a table made at the first one).
 */
function folded(test: CharTest): CharTest {
  const fold: CharTest = (cp) => test(cp) || orbitOf(cp).some(test);
  let ascii: Int8Array | undefined;
  return (cp) => {
    if (cp >= 128) return fold(cp);
    ascii ??= new Int8Array(128);
    if (ascii[cp] === 0) ascii[cp] = fold(cp) ? 1 : -1;
    return ascii[cp] === 1;
  };
}

/** A test with its answers for ASCII worked out once: most subjects are mostly ASCII. */
function withAsciiTable(test: CharTest): CharTest {
  const table = new Uint8Array(128);
  for (let cp = 0; cp < 128; cp++) table[cp] = test(cp) ? 1 : 0;
  return (cp) => (cp < 128 ? table[cp] === 1 : test(cp));
}

/** Tests of Unicode classes by name, each made once: a RegExp test per code point, ASCII answered from a table. */
const unicodeClasses = new Map<string, CharTest>();

function unicodeClass(pattern: string, name: string): CharTest {
  if (name === "Any") return () => true;
  let test = unicodeClasses.get(name);
  if (!test) {
    const property = name.length <= 2 ? name : `Script=${name}`;
    let regex: RegExp;
    try {
      regex = new RegExp(`^\\p{${property}}$`, "u");
    } catch {
      throw new Re2SyntaxError(pattern, `unknown Unicode class ${name}`);
    }
    test = withAsciiTable((cp) => regex.test(String.fromCodePoint(cp)));
    unicodeClasses.set(name, test);
  }
  return test;
}

const isWordChar = (cp: number): boolean =>
  (cp >= 48 && cp <= 57) || (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122) || cp === 95;

// ---------------------------------------------------------------------------------------------
// Syntax tree.

const Assert = {
  BeginText: 1,
  EndText: 2,
  BeginLine: 3,
  EndLine: 4,
  WordBoundary: 5,
  NotWordBoundary: 6,
} as const;
type Assert = (typeof Assert)[keyof typeof Assert];

type Node =
  /** cost: what one test of a character may take, in instructions (a class of many parts costs more). */
  | { kind: "char"; test: CharTest; cost: number }
  | { kind: "assert"; what: Assert }
  | { kind: "cat"; items: Node[] }
  | { kind: "alt"; items: Node[] }
  /** max -1: unbounded. */
  | { kind: "repeat"; item: Node; min: number; max: number; counted: boolean }
  | { kind: "empty" };

/** A group being parsed: its alternatives so far and the concatenation being built. */
interface Frame {
  flags: Flags;
  alternatives: Node[];
  items: Node[];
}

/** Go's repeatIsValid: nested counted repetitions may not multiply past 1000. */
function repeatIsValid(node: Node, limit: number): boolean {
  if (node.kind === "repeat" && node.counted) {
    let m = node.max;
    if (m === 0) return true;
    if (m < 0) m = node.min;
    if (m > limit) return false;
    if (m > 0) limit = Math.trunc(limit / m);
  }
  if (node.kind === "repeat") return repeatIsValid(node.item, limit);
  if (node.kind === "cat" || node.kind === "alt")
    return node.items.every((item) => repeatIsValid(item, limit));
  return true;
}

class Parser {
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

  /** An escape after its backslash: a class (positive set and sign) or a single code point. */
  private escape(
    inClass: boolean,
  ): { set: CharTest; negated: boolean } | { cp: number } | { assert: Assert } {
    const c = this.pattern[this.at++];
    if (c === undefined) this.fail("trailing backslash");
    if (c in PERL_CLASSES) return { set: rangeTest(PERL_CLASSES[c]!), negated: false };
    const lower = c.toLowerCase();
    if (lower in PERL_CLASSES && c !== lower) return { set: rangeTest(PERL_CLASSES[lower]!), negated: true };
    if (c in CONTROL_ESCAPES) return { cp: CONTROL_ESCAPES[c]! };
    if (c === "x") {
      const braced = /^\{([0-9A-Fa-f]{1,8})\}/.exec(this.pattern.slice(this.at, this.at + 11));
      const plain = /^[0-9A-Fa-f]{2}/.exec(this.pattern.slice(this.at, this.at + 2));
      const digits = braced ? braced[1]! : plain?.[0];
      if (!digits) this.fail("bad \\x escape");
      this.at += (braced ?? plain)![0].length;
      const cp = Number.parseInt(digits, 16);
      if (cp > 0x10ffff) this.fail("bad \\x escape");
      return { cp };
    }
    if (c >= "0" && c <= "7") {
      const octal = /^[0-7]{0,2}/.exec(this.pattern.slice(this.at, this.at + 2))![0];
      if (c !== "0" && octal === "") this.fail("backreferences are not supported");
      this.at += octal.length;
      return { cp: Number.parseInt(c + octal, 8) };
    }
    if (c === "8" || c === "9") this.fail("backreferences are not supported");
    if (c === "p" || c === "P") {
      const braced = /^\{(\^?)([A-Za-z_]+)\}/.exec(this.pattern.slice(this.at, this.at + 64));
      const single = /^[A-Za-z]/.exec(this.pattern.slice(this.at, this.at + 1));
      if (!braced && !single) this.fail("bad \\p escape");
      this.at += (braced ?? single)![0].length;
      const name = braced ? braced[2]! : single![0];
      return { set: unicodeClass(this.pattern, name), negated: (c === "P") !== Boolean(braced?.[1]) };
    }
    if (!inClass) {
      if (c === "A") return { assert: Assert.BeginText };
      if (c === "z") return { assert: Assert.EndText };
      if (c === "b") return { assert: Assert.WordBoundary };
      if (c === "B") return { assert: Assert.NotWordBoundary };
    }
    if (/[0-9A-Za-z]/.test(c)) this.fail(`unknown escape \\${c}`);
    this.at--;
    return { cp: this.nextCodePoint() };
  }

  /** A class item: a code point (perhaps the start of a range), or a class pushed onto `parts`. */
  private classItem(parts: CharTest[], flags: Flags): number | undefined {
    if (this.peek() === "[" && this.peek(1) === ":") {
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.pattern.slice(this.at, this.at + 16));
      if (posix) {
        const ranges = POSIX_CLASSES[posix[2]!];
        if (!ranges) this.fail(`unknown class [:${posix[2]}:]`);
        this.at += posix[0].length;
        parts.push(classPart(rangeTest(ranges), posix[1] === "^", flags));
        return undefined;
      }
    }
    if (this.peek() === "\\") {
      this.at++;
      const escaped = this.escape(true);
      if ("cp" in escaped) return escaped.cp;
      if ("assert" in escaped) this.fail("bad escape in class");
      parts.push(classPart(escaped.set, escaped.negated, flags));
      return undefined;
    }
    return this.nextCodePoint();
  }

  private characterClass(flags: Flags): Node {
    const negated = this.peek() === "^";
    if (negated) this.at++;
    const parts: CharTest[] = [];
    const ranges: Range[] = [];
    let first = true;
    while (this.peek() !== "]" || first) {
      if (this.peek() === undefined) this.fail("missing closing ]");
      first = false;
      const low = this.classItem(parts, flags);
      if (low === undefined) continue;
      if (this.peek() === "-" && this.peek(1) !== "]" && this.peek(1) !== undefined) {
        this.at++;
        const high = this.classItem(parts, flags);
        if (high === undefined || high < low) this.fail("bad character class range");
        ranges.push([low, high]);
      } else {
        ranges.push([low, low]);
      }
    }
    this.at++;
    if (ranges.length) parts.push(classPart(rangeTest(ranges), false, flags));
    const union: CharTest =
      parts.length === 0 ? () => false : parts.length === 1 ? parts[0]! : (cp) => parts.some((p) => p(cp));
    return { kind: "char", test: negated ? (cp) => !union(cp) : union, cost: Math.max(parts.length, 1) };
  }

  private repeat(): { min: number; max: number; counted: boolean } | undefined {
    const c = this.peek();
    if (c === "*" || c === "+" || c === "?") {
      this.at++;
      return { min: c === "+" ? 1 : 0, max: c === "?" ? 1 : -1, counted: false };
    }
    if (c === "{") {
      const counted = /^\{(\d+)(,(\d*))?\}/.exec(this.pattern.slice(this.at, this.at + 24));
      if (!counted) return undefined;
      const min = Number(counted[1]);
      const max = counted[2] === undefined ? min : counted[3] ? Number(counted[3]) : -1;
      if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && max < min)) this.fail("bad repetition count");
      this.at += counted[0].length;
      return { min, max, counted: true };
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

  parse(initial: Flags): Node {
    const stack: Frame[] = [];
    let frame: Frame = { flags: initial, alternatives: [], items: [] };
    while (this.at < this.pattern.length) {
      const c = this.peek()!;
      let atom: Node | undefined;
      if (c === "(") {
        this.at++;
        let flags = frame.flags;
        if (this.peek() === "?") {
          const group = /^\?(?:P?<([A-Za-z_][A-Za-z0-9_]*)>|([imsU-]*)(:|\)))/.exec(
            this.pattern.slice(this.at, this.at + 64),
          );
          if (!group) this.fail("lookaround and other (? groups are not supported");
          this.at += group[0].length;
          if (group[3] === ")") {
            frame.flags = this.parseFlags(group[2]!, frame.flags);
            continue;
          }
          if (group[3] === ":") flags = this.parseFlags(group[2]!, flags);
        }
        if (stack.length >= MAX_NESTING) this.fail("expression nests too deeply");
        stack.push(frame);
        frame = { flags, alternatives: [], items: [] };
        continue;
      }
      if (c === ")") {
        this.at++;
        const outer = stack.pop();
        if (!outer) this.fail("unmatched )");
        atom = closeFrame(frame);
        frame = outer;
      } else if (c === "|") {
        this.at++;
        frame.alternatives.push(concatenation(frame.items));
        frame.items = [];
        continue;
      } else if (c === "^" || c === "$") {
        this.at++;
        const what =
          c === "^"
            ? frame.flags.m
              ? Assert.BeginLine
              : Assert.BeginText
            : frame.flags.m
              ? Assert.EndLine
              : Assert.EndText;
        frame.items.push({ kind: "assert", what });
        continue;
      } else if (c === ".") {
        this.at++;
        atom = { kind: "char", test: frame.flags.s ? () => true : (cp) => cp !== 10, cost: 1 };
      } else if (c === "[") {
        this.at++;
        atom = this.characterClass(frame.flags);
      } else if (c === "\\") {
        this.at++;
        if (this.peek() === "Q") {
          this.at++;
          const end = this.pattern.indexOf("\\E", this.at);
          const quoted = this.pattern.slice(this.at, end < 0 ? undefined : end);
          this.at = end < 0 ? this.pattern.length : end + 2;
          for (const ch of quoted) frame.items.push(literal(ch.codePointAt(0)!, frame.flags));
          continue;
        }
        const escaped = this.escape(false);
        if ("cp" in escaped) atom = literal(escaped.cp, frame.flags);
        else if ("assert" in escaped) {
          frame.items.push({ kind: "assert", what: escaped.assert });
          continue;
        } else atom = { kind: "char", test: classPart(escaped.set, escaped.negated, frame.flags), cost: 1 };
      } else if (c === "*" || c === "+" || c === "?" || (c === "{" && this.repeatAhead())) {
        this.fail("missing argument to repetition operator");
      } else {
        atom = literal(this.nextCodePoint(), frame.flags);
      }
      const repetition = this.repeat();
      if (repetition) {
        if (this.peek() === "?") this.at++; // lazy or greedy: the same answer to "is there a match"
        if (this.repeat() !== undefined) this.fail("invalid nested repetition operator");
        atom = { kind: "repeat", item: atom, ...repetition };
        if (
          repetition.counted &&
          (repetition.min >= 2 || repetition.max >= 2) &&
          !repeatIsValid(atom, MAX_REPEAT)
        )
          this.fail("bad repetition count");
      }
      frame.items.push(atom);
    }
    if (stack.length) this.fail("missing closing )");
    return closeFrame(frame);
  }

  private repeatAhead(): boolean {
    return /^\{\d+(,\d*)?\}/.test(this.pattern.slice(this.at, this.at + 24));
  }
}

/** A class (\d, [:alpha:], \pL, ...) as (?i) and its sign make it: folded first, then negated, as RE2 does. */
function classPart(set: CharTest, negated: boolean, flags: Flags): CharTest {
  const test = flags.i ? folded(set) : set;
  return negated ? (cp) => !test(cp) : test;
}

function literal(cp: number, flags: Flags): Node {
  if (!flags.i || orbitOf(cp).length === 0) return { kind: "char", test: (c) => c === cp, cost: 1 };
  const orbit = new Set([cp, ...orbitOf(cp)]);
  return { kind: "char", test: (c) => orbit.has(c), cost: 1 };
}

function concatenation(items: Node[]): Node {
  if (items.length === 0) return { kind: "empty" };
  return items.length === 1 ? items[0]! : { kind: "cat", items };
}

function closeFrame(frame: Frame): Node {
  const alternatives = [...frame.alternatives, concatenation(frame.items)];
  return alternatives.length === 1 ? alternatives[0]! : { kind: "alt", items: alternatives };
}

// ---------------------------------------------------------------------------------------------
// Program: CHAR, SPLIT, JMP, ASSERT and MATCH instructions, run as a Thompson NFA.

const Op = { Char: 0, Split: 1, Jmp: 2, Assert: 3, Match: 4 } as const;
type Op = (typeof Op)[keyof typeof Op];

interface Program {
  op: Uint8Array;
  /** Char, Jmp, Assert: the next instruction; Split: the first branch. */
  x: Int32Array;
  /** Split: the second branch; Assert: which assertion. */
  y: Int32Array;
  tests: (CharTest | undefined)[];
  length: number;
}

/**
 * The search's work lists, shared by every program (a search runs to its end without yielding, so
 * one at a time uses them), grown to the largest program searched: a cached pattern keeps only its
 * instructions.
 */
const work = {
  marks: new Uint32Array(0),
  current: new Int32Array(0),
  next: new Int32Array(0),
  stack: new Int32Array(0),
  generation: 0,
};

/** Instructions `node` compiles to; stops counting past the limit. */
function sizeOf(node: Node, limit: number): number {
  switch (node.kind) {
    case "char":
      return node.cost;
    case "assert":
      return 1;
    case "empty":
      return 0;
    case "cat":
    case "alt": {
      let total = node.kind === "alt" ? 2 * (node.items.length - 1) : 0;
      for (const item of node.items) {
        total += sizeOf(item, limit);
        if (total > limit) return total;
      }
      return total;
    }
    case "repeat": {
      const item = sizeOf(node.item, limit);
      if (node.max < 0) return node.min * item + item + 2;
      return node.min * item + (node.max - node.min) * (item + 1);
    }
  }
}

/**
 * Emits instructions in order; each one without a jump continues at the next one, so a compiled
 * piece always ends by falling through to whatever is emitted after it.
 */
class Compiler {
  readonly program: Program;
  constructor(size: number) {
    this.program = {
      op: new Uint8Array(size + 1),
      x: new Int32Array(size + 1),
      y: new Int32Array(size + 1),
      tests: new Array(size + 1),
      length: 0,
    };
  }

  private emit(op: Op, y = -1, test?: CharTest): number {
    const p = this.program;
    const pc = p.length++;
    p.op[pc] = op;
    p.x[pc] = pc + 1;
    p.y[pc] = y;
    p.tests[pc] = test;
    return pc;
  }

  compile(node: Node): void {
    const p = this.program;
    switch (node.kind) {
      case "char":
        this.emit(Op.Char, -1, node.test);
        return;
      case "assert":
        this.emit(Op.Assert, node.what);
        return;
      case "empty":
        return;
      case "cat":
        for (const item of node.items) this.compile(item);
        return;
      case "alt": {
        // split L1, L2; L1: first; jmp end; L2: split ...; last; end:
        const jumps: number[] = [];
        for (let i = 0; i < node.items.length - 1; i++) {
          const split = this.emit(Op.Split);
          this.compile(node.items[i]!);
          jumps.push(this.emit(Op.Jmp));
          p.y[split] = p.length;
        }
        this.compile(node.items[node.items.length - 1]!);
        for (const jump of jumps) p.x[jump] = p.length;
        return;
      }
      case "repeat": {
        for (let n = 0; n < node.min; n++) this.compile(node.item);
        if (node.max < 0) {
          // L: split body, end; body; jmp L; end:
          const split = this.emit(Op.Split);
          this.compile(node.item);
          const jump = this.emit(Op.Jmp);
          p.x[jump] = split;
          p.y[split] = p.length;
          return;
        }
        // Up to max - min more copies, each of which may be skipped to the end.
        const splits: number[] = [];
        for (let n = node.min; n < node.max; n++) {
          splits.push(this.emit(Op.Split));
          this.compile(node.item);
        }
        for (const split of splits) p.y[split] = p.length;
        return;
      }
    }
  }
}

/** The size `node` compiles to; throws when it is over the limit. */
function checkSize(pattern: string, node: Node): number {
  const size = sizeOf(node, MAX_RE2_PROGRAM);
  if (size > MAX_RE2_PROGRAM)
    throw new Re2SyntaxError(pattern, `expression too large (more than ${MAX_RE2_PROGRAM} instructions)`);
  return size;
}

function compileProgram(pattern: string, node: Node): Program {
  const size = checkSize(pattern, node);
  const compiler = new Compiler(size);
  compiler.compile(node);
  const p = compiler.program;
  p.op[p.length] = Op.Match;
  p.length++;
  return p;
}

/** Whether `program` matches somewhere in `subject`: O(subject × program), whatever the pattern. */
function search(program: Program, subject: string): boolean {
  const codePoints: number[] = [];
  for (let i = 0; i < subject.length; ) {
    const cp = subject.codePointAt(i)!;
    codePoints.push(cp);
    i += cp > 0xffff ? 2 : 1;
  }
  const { op, x, y, tests, length } = program;
  const n = codePoints.length;
  if (work.marks.length < length) {
    work.marks = new Uint32Array(length);
    work.current = new Int32Array(length);
    work.next = new Int32Array(length);
    work.stack = new Int32Array(length * 2 + 2);
    work.generation = 0;
  }
  const { marks, stack } = work;
  // Generations tell this search's marks from older ones; start afresh well before they wrap.
  if (work.generation > 0xffff0000 - 2 * n) {
    marks.fill(0);
    work.generation = 0;
  }
  let generation = work.generation;
  let { current, next } = work;
  let currentSize = 0;
  let nextSize = 0;
  let matched = false;

  const holds = (what: number, at: number): boolean => {
    const before = at > 0 ? codePoints[at - 1]! : -1;
    const after = at < n ? codePoints[at]! : -1;
    switch (what) {
      case Assert.BeginText:
        return at === 0;
      case Assert.EndText:
        return at === n;
      case Assert.BeginLine:
        return at === 0 || before === 10;
      case Assert.EndLine:
        return at === n || after === 10;
      case Assert.WordBoundary:
        return isWordChar(before) !== isWordChar(after);
      default:
        return isWordChar(before) === isWordChar(after);
    }
  };

  /** Adds `start` and what it reaches without reading a character to `next`, at position `at`. */
  const add = (start: number, at: number) => {
    let top = 0;
    stack[top++] = start;
    while (top > 0) {
      const pc = stack[--top]!;
      if (marks[pc] === generation) continue;
      marks[pc] = generation;
      switch (op[pc]) {
        case Op.Jmp:
          stack[top++] = x[pc]!;
          break;
        case Op.Split:
          stack[top++] = y[pc]!;
          stack[top++] = x[pc]!;
          break;
        case Op.Assert:
          if (holds(y[pc]!, at)) stack[top++] = x[pc]!;
          break;
        case Op.Match:
          matched = true;
          break;
        default:
          next[nextSize++] = pc;
      }
    }
  };

  generation++;
  add(0, 0);
  for (let at = 0; at < n && !matched; at++) {
    [current, next] = [next, current];
    currentSize = nextSize;
    nextSize = 0;
    generation++;
    const cp = codePoints[at]!;
    for (let i = 0; i < currentSize; i++) {
      const pc = current[i]!;
      if (tests[pc]!(cp)) add(x[pc]!, at + 1);
    }
    add(0, at + 1); // unanchored: a match may start at any position
  }
  work.generation = generation;
  return matched;
}

/**
 * A RegExp whose `test` runs the compiled RE2 program (linear time). Only `test` is answered: it
 * is all a constraint asks, and the match positions of RE2's leftmost-first semantics are not
 * computed. A RegExp so that callers that keep RegExps keep working.
 */
class Re2RegExp extends RegExp {
  readonly #program: Program;

  constructor(program: Program, caseInsensitive: boolean) {
    super("[^\\s\\S]", caseInsensitive ? "iu" : "u");
    this.#program = program;
  }

  override test(subject: string): boolean {
    return search(this.#program, String(subject));
  }

  override exec(_subject: string): RegExpExecArray | null {
    throw new Error("an RE2 constraint pattern answers test() only");
  }
}

function parse(pattern: string, caseInsensitive: boolean): Node {
  return new Parser(pattern).parse({ i: caseInsensitive, m: false, s: false, U: false });
}

/** Compiles an RE2 pattern into a RegExp for match tests, linear in the subject; throws Re2SyntaxError. */
export function compileRe2(pattern: string, caseInsensitive = false): RegExp {
  return new Re2RegExp(compileProgram(pattern, parse(pattern, caseInsensitive)), caseInsensitive);
}

/** Throws Re2SyntaxError when `pattern` would not compile; compiles nothing (what validating a flag needs). */
export function checkRe2(pattern: string, caseInsensitive = false): void {
  checkSize(pattern, parse(pattern, caseInsensitive));
}
