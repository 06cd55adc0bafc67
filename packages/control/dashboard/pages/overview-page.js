// Overview: what serves, the traffic split by version, and live charts per version.

import { ms, percent, statusWords } from "../format.js";
import { html } from "../html.js";
import { TimeChart, versionStyle } from "../time-chart.js";
import { DownButton } from "./down-button.js";
import { RegionTable } from "./region-table.js";
import { ReleaseSummary } from "./release-summary.js";

export function OverviewPage({ live, history }) {
  const tick = live.tick;
  if (!tick) return html`<h1>Overview</h1><p>Waiting for the first update from the control plane…</p>`;
  const { status, stats } = tick;
  const services = status.regions ?? [status];
  const tracks = stats?.tracks ?? [];
  const versions = [...history.versions.keys()];
  return html`
    <h1>Overview</h1>
    <${RegionTable} status=${status} title="Regions (release waves)" measuredStats=${live.tick?.regions ?? null} />
    ${services.map(
      (s) => html`<section class="card" aria-labelledby=${`svc-${s.service}`}>
        <h2 id=${`svc-${s.service}`}>${s.region ? `${s.service} in ${s.region}` : s.service}</h2>
        <p class="serving" data-testid="serving">
          ${
            s.serving
              ? html`Serving <strong>${s.serving.version}</strong> on ${s.serving.instances.length} instance${s.serving.instances.length === 1 ? "" : "s"}`
              : "Nothing deployed yet"
          }
        </p>
        ${s.release && html`<${ReleaseSummary} release=${s.release} decisions=${s.decisions ?? []} waiting=${s.waiting} />`}
      </section>`,
    )}
    <section class="card" aria-labelledby="split-title">
      <h2 id="split-title">Traffic split</h2>
      ${
        stats?.error &&
        (status.serving || status.release
          ? html`<p class="problem" role="status">Router stats unavailable: ${stats.error}</p>`
          : html`<p>Nothing deployed yet, so the router has no traffic of this service to count.</p>`)
      }
      ${stats ? html`<${Split} tracks=${tracks} versions=${versions} />` : html`<p>No router stats for this control plane${status.regions ? ": each region has its own router; the Regions table above shows each region's split and what its router measured" : ""}.</p>`}
    </section>
    ${
      stats &&
      html`<section class="card" aria-labelledby="charts-title">
      <h2 id="charts-title">Live, per version <span class="hint">(last ${stats.windowSeconds} s, every second)</span></h2>
      <div class="charts">
        <${TimeChart} id="c-rps" title="Requests/s" unit="" metric="rps" history=${history} versions=${versions} />
        <${TimeChart} id="c-err" title="Error rate (5xx)" unit="%" metric="errorRate" history=${history} versions=${versions} />
        <${TimeChart} id="c-p95" title="Latency p95" unit=" ms" metric="p95" history=${history} versions=${versions} />
        <${TimeChart} id="c-p99" title="Latency p99" unit=" ms" metric="p99" history=${history} versions=${versions} />
      </div>
    </section>`
    }
    <p class="hint">Latest release: ${statusWords(services[0]?.release)}.</p>
    <${DownButton} status=${status} />
  `;
}

function Split({ tracks, versions }) {
  const current = tracks.filter((t) => t.current);
  const total = current.reduce((sum, t) => sum + t.weight, 0) || 1;
  const colour = (v) => versionStyle(Math.max(0, versions.indexOf(v))).stroke;
  return html`
    <div class="split" role="img" aria-label=${`Traffic split: ${current.map((t) => `${t.version} ${Math.round((100 * t.weight) / total)}%`).join(", ")}`}>
      ${current.map(
        (
          t,
        ) => html`<div class="split-part" style=${{ width: `${(100 * t.weight) / total}%`, background: colour(t.version) }}>
          ${t.version} ${Math.round((100 * t.weight) / total)}%
        </div>`,
      )}
    </div>
    <table class="numbers" data-testid="split">
      <caption class="visually-hidden">Per version, over the last seconds</caption>
      <thead><tr><th scope="col">Version</th><th scope="col">Track</th><th scope="col">Weight</th><th scope="col">Requests/s</th><th scope="col">Errors</th><th scope="col">p95</th><th scope="col">p99</th></tr></thead>
      <tbody>
        ${tracks.map(
          (t) => html`<tr>
            <th scope="row">${t.version}${t.current ? "" : " (leaving)"}</th>
            <td>${t.track}</td>
            <td>${t.current ? `${Math.round((100 * t.weight) / total)}%` : "0%"}</td>
            <td>${t.requestsPerSecond.toFixed(1)}</td>
            <td>${percent(t.errorRate, 2)}</td>
            <td>${ms(t.p95)}</td>
            <td>${ms(t.p99)}</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
}
