// The analysis' decisions, each with its reason and the numbers it was made from.

import { numbersOf } from "../format.js";
import { html } from "../html.js";

export function DecisionList({ decisions }) {
  return html`<ol class="decisions" aria-label="Analysis decisions">
    ${decisions.map(
      (d) => html`<li class=${`decision decision-${d.decision}`}>
        <p><span class="badge" data-decision=${d.decision}>step ${d.step}: ${d.decision}</span> ${d.reason}</p>
        ${
          numbersOf(d.numbers).length > 0 &&
          html`<dl class="figures">
          ${numbersOf(d.numbers).map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}
        </dl>`
        }
      </li>`,
    )}
  </ol>`;
}
