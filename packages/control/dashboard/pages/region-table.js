// Release waves (`regions:` in baton.yaml): each region's serving version, its release in the wave
// and the traffic split that release's step sets. The split is the planned one: this control plane
// reads no per-region router stats (each region has its own router), so no measured numbers here.
import { statusWords } from "../format.js";
import { html } from "../html.js";

const IN_FLIGHT = new Set(["starting", "progressing", "rolling-back"]);

/** The split a region's release sets now, in words: "v2 10%, v1 90%", or all to what serves. */
export function plannedSplit(region) {
  const r = region.release;
  const serving = region.serving?.version;
  if (r && IN_FLIGHT.has(r.status) && r.previousVersion) {
    const steps = r.settings?.canary?.steps;
    const weight = Array.isArray(steps) ? steps[r.step]?.weight : undefined;
    if (typeof weight === "number") return `${r.version} ${weight}%, ${r.previousVersion} ${100 - weight}%`;
    return `moving from ${r.previousVersion} to ${r.version} (${r.strategy})`;
  }
  return serving ? `${serving} 100%` : "nothing served";
}

/** One row per region, in wave order; `title` names the table (Overview and Releases use it). */
export function RegionTable({ status, title = "Regions" }) {
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
      <thead><tr><th scope="col">Region</th><th scope="col">Serving</th><th scope="col">Instances</th><th scope="col">Region's latest release</th><th scope="col">Split (planned)</th></tr></thead>
      <tbody>
        ${regions.map(
          (r) => html`<tr data-region=${r.region}>
            <th scope="row">${r.region}</th>
            <td>${r.serving?.version ?? "nothing"}</td>
            <td>${r.serving?.instances.length ?? 0}</td>
            <td>${r.release ? html`#${r.release.id} ${r.release.version}: <span class="badge" data-status=${r.release.status}>${statusWords(r.release)}</span>${IN_FLIGHT.has(r.release.status) ? `, step ${r.release.step + 1}` : ""}` : "none yet"}</td>
            <td>${plannedSplit(r)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    <p class="hint">Measured per-region traffic (requests, errors, latency) is on each region's router; this control plane does not read it.</p>
  </section>`;
}
