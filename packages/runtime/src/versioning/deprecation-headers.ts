/** When a version stops being recommended, and when it goes away. */
export interface Retirement {
  /** Since when the version is deprecated (a Date or anything `Date.parse` reads, e.g. "2026-01-01"). */
  deprecatedAt: Date | string;
  /** When it will stop being served, if decided. */
  sunsetAt?: Date | string;
  /** Where the migration is explained: sent as `Link: <url>; rel="deprecation"`. */
  link?: string;
  /** Where the sunset is announced: `Link: <url>; rel="sunset"` (default: `link`). */
  sunsetLink?: string;
}

/**
 * The headers every response of a retiring version carries, computed once per version:
 * `Deprecation: @<unix seconds>` (RFC 9745, a structured-field date), `Sunset: <HTTP-date>`
 * (RFC 8594), and their `Link`s.
 */
export function deprecationHeaders(version: string, r: Retirement): Record<string, string> {
  const headers: Record<string, string> = {};
  const deprecated = dateOf(r.deprecatedAt, version, "deprecatedAt");
  headers.deprecation = `@${Math.floor(deprecated.getTime() / 1000)}`;
  const links: string[] = [];
  if (r.link) links.push(`<${r.link}>; rel="deprecation"`);
  if (r.sunsetAt !== undefined) {
    headers.sunset = dateOf(r.sunsetAt, version, "sunsetAt").toUTCString();
    const sunsetLink = r.sunsetLink ?? r.link;
    if (sunsetLink) links.push(`<${sunsetLink}>; rel="sunset"`);
  }
  if (links.length > 0) headers.link = links.join(", ");
  return headers;
}

function dateOf(value: Date | string, version: string, field: string): Date {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new Error(`versioning: retire.${version}.${field} is not a date: ${JSON.stringify(value)}`);
  return date;
}
