/**
 * Strict SemVer 2.0 parsing and precedence, as the `semver` package (which unleash-client uses) does
 * without its `loose` option: surrounding spaces are trimmed, a leading "v" is accepted, build metadata
 * is ignored when comparing.
 */
export interface SemVer {
  main: [number, number, number];
  prerelease: Array<string | number>;
}

const MAX_LENGTH = 256;
const IDENTIFIER = String.raw`(?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*)`;
const FULL = new RegExp(
  String.raw`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
    String.raw`(?:-(${IDENTIFIER}(?:\.${IDENTIFIER})*))?` +
    String.raw`(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`,
);
const NUMERIC = /^[0-9]+$/;

export function parseSemver(input: unknown): SemVer | undefined {
  if (typeof input !== "string" || input.length > MAX_LENGTH) return undefined;
  const match = FULL.exec(input.trim());
  if (!match) return undefined;
  const main = [Number(match[1]), Number(match[2]), Number(match[3])] as [number, number, number];
  if (main.some((part) => part > Number.MAX_SAFE_INTEGER)) return undefined;
  const prerelease = match[4]
    ? match[4].split(".").map((id) => {
        const n = Number(id);
        return NUMERIC.test(id) && n < Number.MAX_SAFE_INTEGER ? n : id;
      })
    : [];
  return { main, prerelease };
}

function compareIdentifiers(a: string | number, b: string | number): number {
  const aNumeric = NUMERIC.test(String(a));
  const bNumeric = NUMERIC.test(String(b));
  const left = aNumeric && bNumeric ? Number(a) : a;
  const right = aNumeric && bNumeric ? Number(b) : b;
  if (left === right) return 0;
  if (aNumeric && !bNumeric) return -1;
  if (bNumeric && !aNumeric) return 1;
  return left < right ? -1 : 1;
}

/** -1, 0 or 1 by SemVer precedence. */
export function compareSemver(a: SemVer, b: SemVer): number {
  for (let i = 0; i < 3; i++) {
    const diff = compareIdentifiers(a.main[i]!, b.main[i]!);
    if (diff !== 0) return diff;
  }
  // A release outranks its prereleases.
  if (a.prerelease.length && !b.prerelease.length) return -1;
  if (!a.prerelease.length && b.prerelease.length) return 1;
  for (let i = 0; ; i++) {
    const x = a.prerelease[i];
    const y = b.prerelease[i];
    if (x === undefined && y === undefined) return 0;
    if (y === undefined) return 1;
    if (x === undefined) return -1;
    const diff = compareIdentifiers(x, y);
    if (diff !== 0) return diff;
  }
}
