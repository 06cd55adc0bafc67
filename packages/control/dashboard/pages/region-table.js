// Release waves (`regions:` in baton.yaml): each region's serving version, its release in the wave,
// the traffic split that release's step sets, and what each region's router measured in the live
// events' window (requests/s, error rate and p95 per version).
import { inFlight, ms, percent, statusWords } from "../format.js";
import { html } from "../html.js";

/** The split a region's release sets now, in words: "v2 10%, v1 90%", or all to what serves. */
export function plannedSplit(region) {
  const r = region.release;
  const serving = region.serving?.version;
  if (r && inFlight(r) && r.previousVersion) {
    const steps = r.settings?.canary?.steps;
    const weight = Array.isArray(steps) ? steps[r.step]?.weight : undefined;
    if (typeof weight === "number") return `${r.version} ${weight}%, ${r.previousVersion} ${100 - weight}%`;
    return `moving from ${r.previousVersion} to ${r.version} (${r.strategy})`;
  }
  return serving ? `${serving} 100%` : "nothing served";
}

/** What a region's router measured, per version, in words; or why there is nothing. */
function measured(stats) {
  if (!stats) return "not read";
  if (stats.error) return `its router did not answer: ${stats.error}`;
  const live = stats.tracks.filter((t) => t.requestsPerSecond > 0 || t.current);
  if (live.length === 0) return "no traffic";
  return live
    .map((t) =>
      t.requestsPerSecond > 0
        ? `${t.version}: ${t.requestsPerSecond.toFixed(1)} req/s, ${percent(t.errorRate)} errors, p95 ${ms(t.p95)}`
        : `${t.version}: no traffic`,
    )
    .join("; ");
}

/**
 * One row per region, in wave order; `title` names the table (Overview and Releases use it);
 * `measuredStats`: the live events' `regions` (each region's router stats), when there are any.
 */
export function RegionTable({ status, title = "Regions", measuredStats = null }) {
  const regions = status?.regions;
  if (!Array.isArray(regions) || regions.length === 0) return null;
  const wave = status.release;
  return html`<section class="card" aria-labelledby="regions-title" data-testid="regions">
    <h2 id="regions-title">${title}</h2>
    ${
      wave &&
      html`<p>Wave #${wave.id}: <strong>${wave.version}</strong>, <span class="badge" data-status=${wave.status}>${statusWords(wave)}</span>, region by region in this order.</p>`
    }
    <table class="numbers">
      <thead><tr><th scope="col">Region</th><th scope="col">Serving</th><th scope="col">Instances</th><th scope="col">Region's latest release</th><th scope="col">Split (planned)</th><th scope="col">Measured by its router</th></tr></thead>
      <tbody>
        ${regions.map(
          (r) => html`<tr data-region=${r.region}>
            <th scope="row">${r.region}</th>
            <td>${r.serving?.version ?? "nothing"}</td>
            <td>${r.serving?.instances.length ?? 0}</td>
            <td>${r.release ? html`#${r.release.id} ${r.release.version}: <span class="badge" data-status=${r.release.status}>${statusWords(r.release)}</span>${inFlight(r.release) ? `, step ${r.release.step + 1}` : ""}` : "none yet"}</td>
            <td>${plannedSplit(r)}</td>
            <td data-testid="region-measured">${measured(measuredStats?.find((m) => m.region === r.region))}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${measuredStats && html`<p class="hint">Measured over the last ${measuredStats[0]?.windowSeconds ?? 5} s by each region's router.</p>`}
  </section>`;
}
