// Releases: the current and past ones with their decisions, the actions, and a deploy form.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { statusWords, when } from "../format.js";
import { html } from "../html.js";
import { DeployForm } from "./deploy-form.js";
import { RegionTable } from "./region-table.js";
import { ReleaseActions } from "./release-actions.js";
import { ReleaseAnalysis } from "./release-analysis.js";
import { ReleaseSummary } from "./release-summary.js";
import { ReleaseTimeline } from "./release-timeline.js";

export function ReleasePage({ live }) {
  const status = live.tick?.status;
  const latest = status?.release ?? null;
  // Refetched when the latest release changes at all (a step, a status, a new one).
  const changeKey = latest ? `${latest.id}:${latest.status}:${latest.step}:${latest.updatedAt}` : "";
  const [releases, setReleases] = useState([]);
  const [selected, setSelected] = useState(null);
  const [detail, setDetail] = useState(null);
  const [problem, setProblem] = useState(null);

  useEffect(() => {
    api("GET", "/v1/releases?limit=20").then(setReleases, (e) => setProblem(e.message));
  }, [changeKey]);
  const shownId = selected ?? latest?.id ?? null;
  useEffect(() => {
    if (shownId === null) return setDetail(null);
    api("GET", `/v1/releases/${shownId}`).then(setDetail, (e) => setProblem(e.message));
  }, [shownId, changeKey]);

  return html`
    <h1>Releases</h1>
    ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    <${ReleaseActions} status=${status} onProblem=${setProblem} />
    <section class="card" aria-labelledby="detail-title">
      <h2 id="detail-title">${detail ? `Release #${detail.release.id}: ${detail.release.version}` : "No release yet"}</h2>
      ${
        detail &&
        html`<${ReleaseSummary} release=${detail.release} decisions=${detail.decisions} waiting=${detail.release.id === latest?.id ? status.waiting : null} full=${true} />
        <p class="hint">Started ${when(detail.release.createdAt)}, last change ${when(detail.release.updatedAt)}.</p>
        <${ReleaseTimeline} key=${`t${detail.release.id}`} release=${detail.release} />
        <${ReleaseAnalysis} key=${detail.release.id} release=${detail.release} />`
      }
    </section>
    <${RegionTable} status=${status} title="Waves per region" measuredStats=${live.tick?.regions ?? null} />
    <${DeployForm} onProblem=${setProblem} defaultDir=${latest?.dir ?? null} />
    <section class="card" aria-labelledby="history-title">
      <h2 id="history-title">Past releases</h2>
      <table class="numbers" data-testid="releases">
        <thead><tr><th scope="col">#</th><th scope="col">Version</th><th scope="col">Outcome</th><th scope="col">Strategy</th><th scope="col">Started</th><th scope="col">Reason</th></tr></thead>
        <tbody>
          ${releases.map(
            (r) => html`<tr aria-current=${r.id === shownId ? "true" : undefined}>
              <th scope="row"><button class="link" onClick=${() => setSelected(r.id)} aria-label=${`Show release ${r.id} (${r.version})`}>#${r.id}</button></th>
              <td>${r.version}${r.rollbackOf ? ` (rollback of ${r.rollbackOf})` : ""}</td>
              <td><span class="badge" data-status=${r.status}>${statusWords(r)}</span></td>
              <td>${r.strategy}</td>
              <td>${when(r.createdAt)}</td>
              <td class="reason-cell">${r.reason ?? ""}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
}
