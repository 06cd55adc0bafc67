// A canary release's steps, as Argo Rollouts lists them: each weight and pause, and where the
// release is (or stopped), in words as well as marks. Numbered from 1, as the CLI's lines are.
import { inFlight } from "../format.js";
import { html } from "../html.js";

function pauseWords(pause) {
  if (pause === undefined || pause === null) return "then wait for promote";
  return `then hold ${typeof pause === "number" ? `${+(pause / 1000).toFixed(1)} s` : pause} while the analysis runs`;
}

/** Where step `i` is: done, the current one, where the release stopped, or still to come. */
function stateOf(i, release) {
  if (release.status === "succeeded") return "done";
  if (i < release.step) return "done";
  if (i > release.step) return inFlight(release) ? "to come" : "not reached";
  if (inFlight(release)) return release.status === "rolling-back" ? "rolling back here" : "current";
  return `${release.status.replace("-", " ")} here`;
}

export function ReleaseSteps({ release }) {
  const steps = release.settings?.canary?.steps;
  if (!Array.isArray(steps) || steps.length === 0) return null;
  return html`<ol class="steps" aria-label="Canary steps">
    ${steps.map((s, i) => {
      const state = stateOf(i, release);
      return html`<li class="step" data-state=${state.split(" ")[0]} aria-current=${state === "current" ? "step" : undefined}>
        <span class="step-state">${state}</span>
        Step ${i + 1}: ${s.weight === 100 ? "all traffic to the new version (promotion)" : `${s.weight}% of traffic to ${release.version}`}${s.weight === 100 ? "" : `, ${pauseWords(s.pause)}`}
      </li>`;
    })}
  </ol>`;
}
