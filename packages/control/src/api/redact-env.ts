/** Names that hold secrets by convention: their values are never shown. */
const SECRET_NAME = /pass|secret|token|key|credential|auth|private|cookie|session|signature|salt|dsn/i;
/** A URL's password: `scheme://user:password@host`. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi;
/** A value is shown up to this many characters: an API answer is no place for a 32 KB blob. */
const SHOWN = 200;

/**
 * A release's environment as the API shows it: values of secret-looking names hidden, passwords
 * in URLs masked, long values cut. The control plane keeps the real one (it restarts instances
 * with it); what leaves through the API and reaches every dashboard's live events does not need it.
 */
export function redactEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([name, value]) => {
      if (SECRET_NAME.test(name)) return [name, "(hidden)"];
      const shown = value.replace(URL_PASSWORD, "$1:***@");
      return [name, shown.length > SHOWN ? `${shown.slice(0, SHOWN)}… (${value.length} characters)` : shown];
    }),
  );
}

const isStringRecord = (v: unknown): v is Record<string, string> =>
  typeof v === "object" &&
  v !== null &&
  !Array.isArray(v) &&
  Object.values(v).every((x) => typeof x === "string");

/**
 * `value` with every `env` record in it redacted (releases in lists, statuses, regions): copies
 * only what it changes. Deep structures beyond `depth` are left as they are (answers are shallow).
 */
export function redactEnvs<T>(value: T, depth = 8): T {
  if (depth === 0 || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const r = redactEnvs(v, depth - 1);
      changed ||= r !== v;
      return r;
    });
    return (changed ? out : value) as T;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const r = k === "env" && isStringRecord(v) ? redactEnv(v) : redactEnvs(v, depth - 1);
    if (r !== v) {
      out ??= { ...(value as Record<string, unknown>) };
      out[k] = r;
    }
  }
  return (out ?? value) as T;
}
