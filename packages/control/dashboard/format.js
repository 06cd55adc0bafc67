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

const figure = (v) =>
  v === null ? "–" : typeof v === "number" && !Number.isInteger(v) ? String(+v.toPrecision(4)) : String(v);

/**
 * The numbers of a decision (the analysis' verdict), grouped as it groups them: `errorRate`,
 * `latency`, `requests`..., each a list of `[name, value]`; the verdict's own words are left out
 * (the reason is shown above them).
 */
export function numbersOf(numbers) {
  const groups = [];
  const top = [];
  for (const [k, v] of Object.entries(numbers ?? {})) {
    if (k === "decision" || k === "reason" || Array.isArray(v)) continue;
    if (v !== null && typeof v === "object") {
      const entries = Object.entries(v)
        .filter(([name, x]) => name !== "decision" && (x === null || typeof x !== "object"))
        .map(([name, x]) => [name, figure(x)]);
      if (entries.length > 0) groups.push({ name: k, decision: v.decision, entries });
    } else top.push([k, figure(v)]);
  }
  return top.length > 0 ? [{ name: "", entries: top }, ...groups] : groups;
}

/** Whether a release is still running (the control plane's `inFlight`): starting, progressing, rolling back. */
export function inFlight(release) {
  return (
    release?.status === "starting" || release?.status === "progressing" || release?.status === "rolling-back"
  );
}
