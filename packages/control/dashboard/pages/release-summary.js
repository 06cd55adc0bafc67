// A release in a few lines: its outcome in words, what it waits for, and the latest decision's reason;
// `full`: its steps and every decision with its numbers.
import { statusWords } from "../format.js";
import { html } from "../html.js";
import { DecisionList } from "./decision-list.js";
import { ReleaseSteps } from "./release-steps.js";

export function ReleaseSummary({ release, decisions, waiting, full = false }) {
  const shown = full ? decisions : decisions.slice(-3);
  return html`<div class=${`release status-${release.status}`} data-testid="release-summary">
    <p>
      <span class="badge" data-status=${release.status}>${statusWords(release)}</span>
      Release #${release.id}: <strong>${release.version}</strong>
      ${release.previousVersion ? ` (from ${release.previousVersion})` : ""}, ${release.strategy}, step ${release.step + 1}
    </p>
    ${release.reason && html`<p class="reason" data-testid="release-reason"><strong>Why:</strong> ${release.reason}</p>`}
    ${waiting && html`<p class="waiting" role="status"><strong>Waiting for ${waiting.kind}:</strong> ${waiting.message}${waiting.seconds ? ` (about ${Math.ceil(waiting.seconds)} s)` : ""}</p>`}
    ${full && html`<${ReleaseSteps} release=${release} />`}
    ${shown.length > 0 && html`<${DecisionList} decisions=${shown} figures=${full} />`}
  </div>`;
}
