// `baton flags apply` in the browser: paste or choose a flag file (YAML or JSON, as `baton flags
// export` writes it), see what would change (the server's dry run, checked as the apply is), then
// apply exactly that text. Editing the text after the preview asks for a new one.
import { useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { html } from "../html.js";

/** Keys in order (the name first), so that the order a file or the store wrote them in is no change. */
function sorted(value) {
  if (Array.isArray(value)) return value.map(sorted);
  if (value === null || typeof value !== "object") return value;
  const keys = Object.keys(value).sort((p, q) => (p === "name" ? -1 : q === "name" ? 1 : p.localeCompare(q)));
  return Object.fromEntries(keys.map((k) => [k, sorted(value[k])]));
}

/** Lines of `a` and `b` as `  `, `- ` (only before) and `+ ` (only after): a longest-common-subsequence diff. */
export function lineDiff(a, b) {
  const x = a ? JSON.stringify(sorted(a), null, 2).split("\n") : [];
  const y = JSON.stringify(sorted(b), null, 2).split("\n");
  const n = x.length;
  const m = y.length;
  const lcs = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      out.push({ kind: "same", text: `  ${x[i++]}` });
      j++;
    } else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1]))
      out.push({ kind: "removed", text: `- ${x[i++]}` });
    else out.push({ kind: "added", text: `+ ${y[j++]}` });
  }
  return out;
}

const names = (list) => (list.length ? list.join(", ") : "none");

export function FlagsApplyPanel({ onApplied }) {
  const [text, setText] = useState("");
  const [plan, setPlan] = useState(null);
  const [problem, setProblem] = useState(null);
  const [done, setDone] = useState(null);
  const [busy, setBusy] = useState(false);

  const edit = (value) => {
    setText(value);
    setPlan(null);
    setDone(null);
  };
  const choose = async (e) => {
    const file = e.currentTarget.files?.[0];
    if (file) edit(await file.text());
  };
  const preview = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      setPlan({ text, ...(await api("POST", "/v1/flags/apply?dryRun=1", { file: text })) });
      setProblem(null);
    } catch (err) {
      setPlan(null);
      setProblem(`The file was refused: ${err.message}`);
    } finally {
      setBusy(false);
    }
  };
  const apply = async () => {
    setBusy(true);
    try {
      const r = await api("POST", "/v1/flags/apply", { file: plan.text, actor: ACTOR });
      setDone(
        `Applied: created ${names(r.created)}; changed ${names(r.changed)}; ${r.unchanged.length} unchanged; segments ${names(r.segments.map(String))}.`,
      );
      setPlan(null);
      setProblem(null);
      onApplied();
    } catch (err) {
      setProblem(`Applying was refused: ${err.message}`);
    } finally {
      setBusy(false);
    }
  };

  const nothing = plan && plan.changes.length === 0;
  return html`<section class="card" aria-labelledby="apply-title" data-testid="flags-apply">
    <h2 id="apply-title">Apply a flag file <span class="hint">(<code>baton flags apply</code>: all or nothing)</span></h2>
    ${problem && html`<p class="problem" role="alert" data-testid="apply-problem">${problem}</p>`}
    ${done && html`<p role="status" data-testid="apply-done">${done}</p>`}
    <form class="apply" onSubmit=${preview}>
      <label for="apply-text">Flag file (YAML or JSON: a list of flags, or <code>{features, segments}</code> as <code>baton flags export</code> writes it)</label>
      <textarea id="apply-text" rows="8" spellcheck="false" value=${text} onInput=${(e) => edit(e.currentTarget.value)}></textarea>
      <label for="apply-file">Or choose a file</label>
      <input id="apply-file" type="file" accept=".json,.yaml,.yml,application/json,text/yaml" onChange=${choose} />
      <div class="actions">
        <button type="submit" disabled=${busy || !text.trim()}>Preview changes</button>
      </div>
    </form>
    ${
      plan &&
      html`<div class="apply-plan" data-testid="apply-plan">
        <h3>What would change</h3>
        <ul>
          <li>Flags created: ${names(plan.created)}</li>
          <li>Flags changed: ${names(plan.changed)}</li>
          <li>Flags unchanged: ${plan.unchanged.length}</li>
          <li>Segments created or changed: ${names(plan.segments.map(String))}</li>
        </ul>
        ${plan.changes.map(
          (c) => html`<details open=${plan.changes.length <= 5}>
            <summary>${c.kind} ${c.name}: ${c.before ? "changed" : "created"}</summary>
            <pre class="diff" role="region" tabindex="0" aria-label=${`Changes to ${c.kind} ${c.name}: lines starting with minus are removed, with plus added`}>${lineDiff(
              c.before,
              c.after,
            ).map((l) => html`<span class=${`diff-${l.kind}`}>${`${l.text}\n`}</span>`)}</pre>
          </details>`,
        )}
        <div class="actions">
          <button type="button" onClick=${apply} disabled=${busy || nothing}>${nothing ? "Nothing to apply" : "Apply these changes"}</button>
          <button type="button" onClick=${() => setPlan(null)}>Cancel</button>
        </div>
      </div>`
    }
  </section>`;
}
