// One dimension of a release's analysis drawn over time: the new version minus the old one, the
// band between the bounds its sequential test used at each look, and the tolerance. The picture
// is the rule: the step fails once the whole band is above the tolerance line, and passes once
// the whole band is below it. Shapes and words carry it too, never colour alone: the tolerance is
// dashed, the estimate solid, the bounds dotted, and the caption says where the band is now.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { html } from "../html.js";

const ESTIMATE = { stroke: "#0b5cad", width: 2 };
const BOUND = { stroke: "#5b6b7b", width: 1, dash: [2, 3] };
const TOLERANCE = { stroke: "#b3261e", width: 2, dash: [8, 4] };
const ZERO = { stroke: "#8a8a8a", width: 1 };

/**
 * `points`: [{ t (seconds), estimate, lower, upper }] (null where not bounded yet); `tolerance`:
 * the largest allowed difference (0 for metrics, whose values are already "past the tolerance").
 */
/** `gate`: `{ minRequests, requests }` — a pass also needs the new version to have that many. */
export function ComparisonChart({ id, title, unit, points, tolerance, scale = 1, digits = 2, gate = null }) {
  const box = useRef(null);
  const plot = useRef(null);
  const v = (x) => (x === null || x === undefined ? null : x * scale);
  const data = [
    points.map((p) => p.t),
    points.map((p) => v(p.estimate)),
    points.map((p) => v(p.lower)),
    points.map((p) => v(p.upper)),
    points.map(() => tolerance * scale),
    points.map(() => 0),
  ];
  const tol = tolerance * scale;

  useEffect(() => {
    if (plot.current) {
      plot.current.setData(data);
      return;
    }
    const width = Math.max(280, box.current.clientWidth || 560);
    plot.current = new uPlot(
      {
        width,
        height: 190,
        legend: { show: true, live: false },
        cursor: { show: false },
        scales: { x: { time: true }, y: { range: (u) => rangeOf(u.data, tol) } },
        axes: [{}, { size: 60, values: (_u, ticks) => ticks.map((t) => `${+t.toFixed(digits)}${unit}`) }],
        series: [
          {},
          { label: "new − old (estimate)", ...ESTIMATE },
          { label: "lower bound", ...BOUND },
          { label: "upper bound", ...BOUND },
          {
            label: tolerance === 0 ? "allowed (0)" : `tolerance (${+tol.toFixed(digits)}${unit})`,
            ...TOLERANCE,
          },
          { label: "zero", ...ZERO },
        ],
        bands: [{ series: [3, 2], fill: "rgba(11, 92, 173, 0.14)" }],
      },
      data,
      box.current,
    );
  });
  useEffect(() => () => plot.current?.destroy(), []);

  const last = points[points.length - 1];
  return html`<figure class="chart comparison" aria-labelledby=${`${id}-title`} aria-describedby=${`${id}-now`}>
    <figcaption id=${`${id}-title`}><strong>${title}</strong></figcaption>
    <div ref=${box} class="plot" aria-hidden="true"></div>
    <p id=${`${id}-now`} class="now" data-testid=${`${id}-now`}>${last ? whereNow(last, tol, scale, unit, digits, gate) : "no looks yet"}</p>
  </figure>`;
}

/** Where the band is at the last look, in words: the decision's reason as a picture reads it. */
function whereNow(p, tol, scale, unit, digits, gate) {
  const f = (x) => (x === null ? "unbounded" : `${+(x * scale).toFixed(digits)}${unit}`);
  const range = `${f(p.estimate)}, between ${f(p.lower)} and ${f(p.upper)}`;
  const limit = `${+tol.toFixed(digits)}${unit}`;
  if (p.lower !== null && p.lower * scale > tol)
    return `Now ${range}: the whole band is above the tolerance (${limit}), so the new version is certainly worse.`;
  if (p.upper !== null && p.upper * scale < tol)
    return gate && gate.requests < gate.minRequests
      ? `Now ${range}: the whole band is below the tolerance (${limit}); a pass also waits for ${gate.minRequests} requests of the new version (${gate.requests} so far).`
      : `Now ${range}: the whole band is below the tolerance (${limit}), so the new version is certainly within it.`;
  return `Now ${range}: the band still crosses the tolerance (${limit}), not yet certain either way.`;
}

/**
 * Always shows the tolerance, zero and the whole estimate; the bounds only as far as they stay
 * readable (an early bound can be 50 times the tolerance, which would flatten everything else).
 */
function rangeOf(data, tol) {
  const span = Math.max(Math.abs(tol), 1e-9);
  let lo = Math.min(0, tol);
  let hi = Math.max(0, tol);
  for (const x of data[1] ?? [])
    if (x !== null && x !== undefined) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
  const [floor, ceiling] = [lo - 2 * span, hi + 2 * span];
  for (const s of [2, 3])
    for (const x of data[s] ?? []) {
      if (x === null || x === undefined) continue;
      lo = Math.min(lo, Math.max(x, floor));
      hi = Math.max(hi, Math.min(x, ceiling));
    }
  const pad = (hi - lo) * 0.08 || span * 0.1;
  return [lo - pad, hi + pad];
}
