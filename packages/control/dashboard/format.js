// Numbers and times as an operator reads them.

export function percent(x, digits = 1) {
  return `${(x * 100).toFixed(digits)}%`;
}

export function ms(x) {
  return x === null || x === undefined ? "–" : `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${d.toLocaleTimeString()}`;
}

/** A release's outcome in words (never colour alone). */
export function statusWords(release) {
  if (!release) return "no release yet";
  const words = {
    starting: "starting its instances",
    progressing: "in progress",
    "rolling-back": "rolling back",
    "rolled-back": "rolled back",
    succeeded: "succeeded",
    failed: "failed",
  };
  return words[release.status] ?? release.status.replaceAll(/[-_]/g, " ");
}

/** The numbers of a decision, as `name value` pairs an operator can read. */
export function numbersOf(numbers) {
  return Object.entries(numbers ?? {})
    .filter(([, v]) => v !== null && typeof v !== "object")
    .map(([k, v]) => [k, typeof v === "number" && !Number.isInteger(v) ? +v.toPrecision(4) : String(v)]);
}
