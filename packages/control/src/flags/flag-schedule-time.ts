import { badRequest } from "../api-input.js";

/** How far ahead a change may be scheduled: further is more likely a typo of the year than a plan. */
export const MAX_SCHEDULE_AHEAD_MS = 365 * 86_400_000;

const EXPECTED =
  "expected an ISO 8601 date-time with a zone, e.g. 2026-12-01T09:00Z or 2026-12-01T10:00+01:00";

// Date and time (seconds and fractions optional), then the zone; a time without a zone would be
// read in whatever zone the control plane's machine is in, which is a guess.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

/**
 * When a scheduled change is to happen: an ISO 8601 date-time with a zone, in the future and at most
 * a year ahead. Anything else is a 400 naming `field` and saying what was expected.
 */
export function parseScheduleTime(text: string, now: Date = new Date(), field = "at"): Date {
  const quoted = JSON.stringify(text);
  const m = DATE_TIME.exec(text.trim());
  if (!m) throw badRequest(field, `${field}: ${EXPECTED}; got ${quoted}`);
  const [, year, month, day, hour, minute, second = "0", fraction = "", z, sign, zoneHour, zoneMinute] = m;
  if (!z && !sign)
    throw badRequest(field, `${field}: ${quoted} has no zone (Z, or an offset such as +01:00); ${EXPECTED}`);
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as number[];
  const valid =
    mo! >= 1 &&
    mo! <= 12 &&
    d! >= 1 &&
    d! <= daysIn(y!, mo!) &&
    h! <= 23 &&
    mi! <= 59 &&
    s! <= 59 &&
    Number(zoneHour ?? 0) <= 23 &&
    Number(zoneMinute ?? 0) <= 59;
  if (!valid) throw badRequest(field, `${field}: ${quoted} is not a real date and time; ${EXPECTED}`);
  const offsetMinutes = sign ? (sign === "-" ? -1 : 1) * (Number(zoneHour) * 60 + Number(zoneMinute)) : 0;
  const ms = Math.floor(Number(`0${fraction}`) * 1000);
  const when = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms) - offsetMinutes * 60_000);
  if (when.getTime() <= now.getTime())
    throw badRequest(
      field,
      `${field}: ${when.toISOString()} is in the past (it is now ${now.toISOString()}); expected a time in the future`,
    );
  if (when.getTime() - now.getTime() > MAX_SCHEDULE_AHEAD_MS)
    throw badRequest(
      field,
      `${field}: ${when.toISOString()} is more than a year ahead; expected a time within 365 days`,
    );
  return when;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
