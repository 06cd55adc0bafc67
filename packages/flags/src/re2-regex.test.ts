import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { compileRe2 } from "./re2-regex.js";

// re2js is what unleash-client runs REGEX constraints with; resolved from unleash-client itself.
const requireFromUnleash = createRequire(createRequire(import.meta.url).resolve("unleash-client"));
const { RE2JS } = requireFromUnleash("re2js");

function re2Find(pattern: string, subject: string, caseInsensitive: boolean): boolean | "invalid" {
  try {
    return RE2JS.compile(pattern, caseInsensitive ? RE2JS.CASE_INSENSITIVE : undefined)
      .matcher(subject)
      .find();
  } catch {
    return "invalid";
  }
}

function ours(pattern: string, subject: string, caseInsensitive: boolean): boolean | "invalid" {
  try {
    return compileRe2(pattern, caseInsensitive).test(subject);
  } catch {
    return "invalid";
  }
}

const PATTERNS = [
  "^cat$",
  "(regex",
  "^[^@]+@[^@]+$",
  "^user\\d{3}$",
  "^[[:alpha:]]+$",
  "[[:^digit:]]",
  "\\bcat\\b",
  "\\Bat",
  "^(foo|fo)$",
  "^(ab)?c$",
  "^a{2,4}$",
  "^a{2,}$",
  "^a.*?b$",
  "^(?i)abc$",
  "(?m)^foo$",
  "^(?s)a.b$",
  "^a.b$",
  "^(?=a)b$",
  "^(a)\\1$",
  "(?i:ab)c",
  "a(?-i)b",
  "[a-c]+x",
  "[^a-c]",
  "\\p{Greek}+",
  "\\pL\\PL",
  "\\p{^Han}",
  "é|ü",
  "[é-ü]",
  "(?i)É",
  "(?i)[à-ä]",
  "\\x41\\x{1F600}",
  "\\Qa.b\\E",
  "a\\.b",
  "\\$\\^",
  "\\s\\S",
  "\\w+\\W",
  "\\A\\d",
  "x\\z",
  "a**",
  "a{1001}",
  "(?U)a+",
  "(?U)a+?",
  "(?P<n>x)y",
  "(?<n>x)y",
  "[]a]",
  "[a-]",
  "\\/",
  "\\@",
  "\\8",
  "\\012",
  "a|",
  "()",
  "x{2",
  "[[:word:]]{3}",
  "(?is)^A.B$",
  "😊+$",
  "^.$",
  "[\\d\\s]+",
  "[^\\d]",
  "\\t",
  "\\a",
  "\\cA",
  "(?i)straße",
  "\\x{110000}",
];
const SUBJECTS = [
  "cat",
  "Cat",
  "concatenate",
  "a cat b",
  "user123",
  "user12",
  "test@example.com",
  "AlphaBeta",
  "Alpha1",
  "foo",
  "fo",
  "f",
  "abc",
  "AbC",
  "c",
  "ac",
  "aaaa",
  "a",
  "aaaaa",
  "a___b___b",
  "x\nfoo\ny",
  "a\nb",
  "axb",
  "aa",
  "ab",
  "αβγ",
  "中文",
  "é",
  "Ü",
  "ä",
  "A😊",
  "a.b",
  "$^",
  " x",
  "a b!",
  "1x",
  "x",
  "]",
  "-",
  "/",
  "@",
  "\n",
  "\t",
  "\u0007",
  "STRASSE",
  "straße",
  "😊",
  "😊😊",
  "",
  "aAa",
  "AB",
  "a\nB",
  "12 ",
];

describe("RE2 translation", () => {
  it("agrees with re2js on match and on validity, for every pattern and subject", () => {
    const disagreements: string[] = [];
    for (const pattern of PATTERNS) {
      for (const caseInsensitive of [false, true]) {
        for (const subject of SUBJECTS) {
          const expected = re2Find(pattern, subject, caseInsensitive);
          const actual = ours(pattern, subject, caseInsensitive);
          if (expected !== actual) {
            disagreements.push(
              `/${pattern}/${caseInsensitive ? "i" : ""} on ${JSON.stringify(subject)}: re2js ${expected}, ours ${actual}`,
            );
          }
        }
      }
    }
    expect(disagreements).toEqual([]);
  });
});
