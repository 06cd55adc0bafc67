// A release's analysis over time: for each dimension it judged (error rate, p95 latency, each
// metric of `analysis.metrics`), the new version against the old one with the bounds the
// sequential test used, so a person sees why it promoted or rolled back. Refetched while the
// release runs; the looks are the API's (`GET /v1/releases/{id}/analysis`).
import { html } from "../html.js";
import { ComparisonChart } from "./comparison-chart.js";
import { useReleaseData } from "./use-release-data.js";

export function ReleaseAnalysis({ release }) {
  const { data, problem, running } = useReleaseData(release, "analysis");

  if (problem) return html`<p class="problem" role="alert">The analysis could not be read: ${problem}</p>`;
  if (!data || data.releaseId !== release.id) return null;
  const looks = data.looks ?? [];
  if (looks.length === 0)
    return html`<p class="hint" data-testid="analysis-none">${
      release.strategy === "waves"
        ? "No bake of this wave compared two regions yet: each region's own release has its analysis (the region's releases are listed with the region's name), and a bake compares a region with the next once both have traffic."
        : `No analysis for this release${running ? " yet" : ""}: a first release, an immediate one or a rollback is not compared with anything.`
    }</p>`;
  const a = data.analysis ?? {};
  const minRequests = a.minRequests ?? 0;
  const names = [...new Set(looks.flatMap((l) => l.metrics.map((m) => m.name)))];
  const series = (pick) => withStepGaps(looks, pick);
  const gate = { minRequests, requests: looks[looks.length - 1].requests.treatment };
  return html`<section class="analysis" aria-labelledby="analysis-title" data-testid="analysis">
    <h3 id="analysis-title">The analysis over time</h3>
    <p class="hint">
      Each chart shows the new version minus the old one, with the band the sequential test was sure of at each look
      (${Math.round((a.confidence ?? 0.99) * 1000) / 10}% confidence, valid however often it looks). A step fails once the
      whole band is above the dashed tolerance line, and passes once the whole band is below it (after at least ${minRequests} requests
      of the new version). The band starts again at each step.
      ${names.length > 0 && " A metric of analysis.metrics not marked required need not be proven within its tolerance: it fails a step when its band is above 0, and holds it while its estimate is."}
    </p>
    <div class="charts">
      <${ComparisonChart} id="cmp-errors" title="Error rate, new − old" unit=" pt" scale=${100}
        tolerance=${a.maxErrorRateIncrease ?? 0.02} gate=${gate}
        points=${series((l) => ({ estimate: l.errorRate.increase, lower: l.errorRate.lower, upper: l.errorRate.upper }))} />
      <${ComparisonChart} id="cmp-latency" title="p95 latency, new − old" unit=" ms" digits=${0}
        tolerance=${a.maxP95IncreaseMs ?? 200} gate=${gate}
        points=${series((l) => ({ estimate: l.latency.increaseMs, lower: l.latency.lowerMs, upper: l.latency.upperMs }))} />
      ${names.map(
        (
          name,
          i,
        ) => html`<${ComparisonChart} id=${`cmp-metric-${i}`} title=${`${name}: how far past its tolerance`} unit="" digits=${3}
          tolerance=${0}
          points=${series((l) => {
            const m = l.metrics.find((x) => x.name === name);
            return m ? { estimate: m.excess, lower: m.excessLower, upper: m.excessUpper } : null;
          })} />`,
      )}
    </div>
    <${LookTable} looks=${looks} />
  </section>`;
}

/** The points of one dimension, with a gap between steps (each step's test starts afresh). */
function withStepGaps(looks, pick) {
  const points = [];
  let step;
  for (const l of looks) {
    const t = Date.parse(l.at) / 1000;
    if (step !== undefined && l.step !== step)
      points.push({ t: t - 0.001, estimate: null, lower: null, upper: null });
    step = l.step;
    const p = pick(l);
    points.push(p ? { t, ...p } : { t, estimate: null, lower: null, upper: null });
  }
  return points;
}

const n = (x, scale = 1, digits = 2) =>
  x === null || x === undefined ? "–" : `${+(x * scale).toFixed(digits)}`;

/** The same numbers as a table (the last 20 looks), for screen readers and for copying. */
function LookTable({ looks }) {
  const recent = looks.slice(-20).reverse();
  return html`<details class="looks">
    <summary>The looks as a table (last ${recent.length} of ${looks.length})</summary>
    <table class="numbers">
      <thead><tr>
        <th scope="col">Time</th><th scope="col">Step</th><th scope="col">Decision</th><th scope="col">Requests new / old</th>
        <th scope="col">Error rate new / old (%)</th><th scope="col">Increase bounds (pt)</th>
        <th scope="col">p95 new / old (ms)</th><th scope="col">Increase bounds (ms)</th>
      </tr></thead>
      <tbody>
        ${recent.map(
          (l) => html`<tr>
            <td>${new Date(l.at).toLocaleTimeString()}</td><td>${l.step + 1}</td><td>${l.decision}</td>
            <td>${l.requests.treatment} / ${l.requests.control}</td>
            <td>${n(l.errorRate.treatment, 100)} / ${n(l.errorRate.control, 100)}</td>
            <td>${n(l.errorRate.lower, 100)} … ${n(l.errorRate.upper, 100)}</td>
            <td>${n(l.latency.p95Treatment, 1, 0)} / ${n(l.latency.p95Control, 1, 0)}</td>
            <td>${n(l.latency.lowerMs, 1, 0)} … ${n(l.latency.upperMs, 1, 0)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </details>`;
}
