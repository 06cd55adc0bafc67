// A flag's variants (Unleash's model): name, weight, and an optional payload. SDKs pick one of the
// variants of a flag that is on, by weight, sticky per user.
import { html } from "../html.js";
import { FieldProblem, invalidIf, isAbout } from "./field-problem.js";

const PAYLOAD_TYPES = ["string", "json", "csv", "number"];

export function VariantEditor({ variants, onChange, problem }) {
  const set = (i, v) => onChange(variants.map((x, j) => (j === i ? v : x)));
  const total = variants.reduce((sum, v) => sum + (Number(v.weight) || 0), 0);
  return html`<fieldset class="variants">
    <legend>Variants</legend>
    <p class="hint">${variants.length === 0 ? "None: SDKs answer the flag on or off only." : `Weights are shares of their total (${total}; Unleash uses 1000).`}</p>
    ${variants.map((v, i) => {
      const id = `v${i}`;
      const at = `variants[${i}]`;
      const about = isAbout(problem, at);
      return html`<div class="variant" data-variant=${i}>
        <label for=${`${id}-name`}>Name<span class="visually-hidden"> of variant ${i + 1}</span></label>
        <input id=${`${id}-name`} value=${v.name} required autocomplete="off" onInput=${(e) => set(i, { ...v, name: e.currentTarget.value })}
          ...${invalidIf(isAbout(problem, `${at}.name`), id)} />
        <label for=${`${id}-weight`}>Weight<span class="visually-hidden"> of variant ${i + 1}</span></label>
        <input id=${`${id}-weight`} type="number" min="0" step="1" value=${v.weight}
          onInput=${(e) => set(i, { ...v, weight: Number(e.currentTarget.value) })} ...${invalidIf(isAbout(problem, `${at}.weight`), id)} />
        <label for=${`${id}-ptype`}>Payload type<span class="visually-hidden"> of variant ${i + 1}</span></label>
        <select id=${`${id}-ptype`} value=${v.payload?.type ?? ""} onChange=${(e) => {
          const type = e.currentTarget.value;
          const next = { ...v };
          if (type) next.payload = { type, value: v.payload?.value ?? "" };
          else delete next.payload;
          set(i, next);
        }}>
          <option value="">no payload</option>
          ${PAYLOAD_TYPES.map((t) => html`<option value=${t}>${t}</option>`)}
        </select>
        ${
          v.payload &&
          html`<label for=${`${id}-pvalue`}>Payload<span class="visually-hidden"> of variant ${i + 1}</span></label>
          <input id=${`${id}-pvalue`} value=${v.payload.value} autocomplete="off"
            onInput=${(e) => set(i, { ...v, payload: { ...v.payload, value: e.currentTarget.value } })} />`
        }
        <button type="button" onClick=${() => onChange(variants.filter((_, j) => j !== i))}>Remove variant ${v.name || i + 1}</button>
        <${FieldProblem} id=${id} problem=${problem} show=${about} />
      </div>`;
    })}
    <button type="button" onClick=${() =>
      onChange([
        ...variants,
        {
          name: `variant-${variants.length + 1}`,
          weight: 500,
          weightType: "variable",
          stickiness: "default",
        },
      ])}>Add variant</button>
  </fieldset>`;
}
