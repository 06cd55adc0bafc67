// The analysis' decisions, each with its reason and the numbers it was made from.
import { numbersOf } from "../format.js";
import { html } from "../html.js";

/** `figures`: with the numbers of each (the release page); without, the reasons only. */
export function DecisionList({ decisions, figures = true }) {
  return html`<ol class="decisions" aria-label="Analysis decisions">
    ${decisions.map(
      (d) => html`<li class=${`decision decision-${d.decision}`}>
        <p><span class="badge" data-decision=${d.decision}>step ${d.step + 1}: ${d.decision}</span> ${d.reason}</p>
        ${(figures ? numbersOf(d.numbers) : []).map(
          (g) => html`<dl class="figures">
            ${g.name && html`<div class="group"><dt>${g.name}</dt><dd>${g.decision ?? ""}</dd></div>`}
            ${g.entries.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}
          </dl>`,
        )}
      </li>`,
    )}
  </ol>`;
}
