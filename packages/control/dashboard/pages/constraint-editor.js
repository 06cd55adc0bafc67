// The constraints of a strategy or a segment: context field, operator, value(s), and the switches.
import { html } from "../html.js";
import { FieldProblem, invalidIf, isAbout } from "./field-problem.js";

export const OPERATORS = [
  "IN",
  "NOT_IN",
  "STR_CONTAINS",
  "STR_STARTS_WITH",
  "STR_ENDS_WITH",
  "NUM_EQ",
  "NUM_GT",
  "NUM_GTE",
  "NUM_LT",
  "NUM_LTE",
  "DATE_AFTER",
  "DATE_BEFORE",
  "SEMVER_EQ",
  "SEMVER_GT",
  "SEMVER_GTE",
  "SEMVER_LT",
  "SEMVER_LTE",
  "REGEX",
  "IN_CIDR",
];
/** Operators that compare with one `value`; the others take a list of `values` (as @baton/flags). */
const SINGLE = new Set(OPERATORS.filter((o) => /^(NUM_|DATE_|SEMVER_|REGEX)/.test(o)));

/** "a, b ,c" as the list Unleash keeps. */
const listOf = (text) =>
  text
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);

/** A constraint as the form edits it, and back. */
function withOperator(c, operator) {
  const next = { ...c, operator };
  if (SINGLE.has(operator)) {
    next.value = c.value ?? c.values?.[0] ?? "";
    delete next.values;
  } else {
    next.values = c.values ?? (c.value ? [c.value] : []);
    delete next.value;
  }
  return next;
}

/**
 * `constraints` edited in place: `onChange` gets the new list. `id` makes the inputs' ids unique;
 * `path` is where the server names them (e.g. `strategies[0].constraints`); `of` names the owner
 * for screen readers ("strategy 2", "the segment").
 */
export function ConstraintEditor({ constraints, onChange, id, path, problem, label, of }) {
  const set = (i, c) => onChange(constraints.map((x, j) => (j === i ? c : x)));
  const remove = (i) => onChange(constraints.filter((_, j) => j !== i));
  const add = () => onChange([...constraints, { contextName: "userId", operator: "IN", values: [] }]);
  return html`<fieldset class="constraints">
    <legend>${label}</legend>
    ${constraints.length === 0 && html`<p class="hint">No constraints: it applies to everyone.</p>`}
    ${constraints.map((c, i) => {
      const cid = `${id}-c${i}`;
      const at = `${path}[${i}]`;
      const single = SINGLE.has(c.operator);
      const about = isAbout(problem, at);
      return html`<div class="constraint" data-constraint=${i}>
        <label for=${`${cid}-ctx`}>Context field<span class="visually-hidden"> of constraint ${i + 1} of ${of}</span></label>
        <input id=${`${cid}-ctx`} value=${c.contextName} required autocomplete="off"
          onInput=${(e) => set(i, { ...c, contextName: e.currentTarget.value })} ...${invalidIf(isAbout(problem, `${at}.contextName`), cid)} />
        <label for=${`${cid}-op`}>Operator<span class="visually-hidden"> of constraint ${i + 1} of ${of}</span></label>
        <select id=${`${cid}-op`} value=${c.operator} onChange=${(e) => set(i, withOperator(c, e.currentTarget.value))}>
          ${OPERATORS.map((o) => html`<option value=${o}>${o}</option>`)}
        </select>
        <label for=${`${cid}-val`}>${single ? "Value" : "Values (comma-separated)"}<span class="visually-hidden"> of constraint ${i + 1} of ${of}</span></label>
        <input id=${`${cid}-val`} autocomplete="off" value=${single ? (c.value ?? "") : (c.values ?? []).join(", ")}
          onInput=${(e) => set(i, single ? { ...c, value: e.currentTarget.value } : { ...c, values: listOf(e.currentTarget.value) })}
          ...${invalidIf(about, cid)} />
        <label class="check"><input type="checkbox" checked=${c.inverted === true}
          onChange=${(e) => set(i, { ...c, inverted: e.currentTarget.checked })} /> Not (inverted)<span class="visually-hidden"> in constraint ${i + 1} of ${of}</span></label>
        <label class="check"><input type="checkbox" checked=${c.caseInsensitive === true}
          onChange=${(e) => set(i, { ...c, caseInsensitive: e.currentTarget.checked })} /> Ignore case<span class="visually-hidden"> in constraint ${i + 1} of ${of}</span></label>
        <button type="button" onClick=${() => remove(i)}>Remove constraint<span class="visually-hidden"> ${i + 1} of ${of}</span></button>
        <${FieldProblem} id=${cid} problem=${problem} show=${about} />
      </div>`;
    })}
    <button type="button" onClick=${add}>Add constraint</button>
  </fieldset>`;
}
