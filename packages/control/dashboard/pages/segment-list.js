// Segments: named sets of constraints that strategies share (Unleash's model). Listed, created,
// edited and deleted through /v1/flags/segments; the server refuses deleting one a flag uses.
import { useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { html } from "../html.js";
import { ConstraintEditor } from "./constraint-editor.js";
import { invalidIf, problemOf } from "./field-problem.js";

const summary = (c) =>
  `${c.contextName} ${c.inverted ? "not " : ""}${c.operator} ${c.value ?? (c.values ?? []).join(", ")}`;

export function SegmentList({ segments, onChanged }) {
  const [editing, setEditing] = useState(null);
  const [problem, setProblem] = useState(null);
  const [done, setDone] = useState(null);

  const startNew = () => {
    const id = segments.reduce((max, s) => Math.max(max, s.id), 0) + 1;
    setEditing({ isNew: true, segment: { id, name: "", constraints: [] } });
    setProblem(null);
  };
  const remove = async (s) => {
    if (!window.confirm(`Delete segment ${s.name || s.id} (#${s.id})?`)) return;
    try {
      await api("DELETE", `/v1/flags/segments/${s.id}`, { actor: ACTOR });
      setProblem(null);
      setDone(`Segment #${s.id} deleted.`);
      onChanged();
    } catch (e) {
      setProblem(problemOf(e));
    }
  };
  const save = async (e) => {
    e.preventDefault();
    const { id, ...rest } = editing.segment;
    try {
      await api("PUT", `/v1/flags/segments/${Number(id)}`, {
        ...rest,
        ...(rest.name ? {} : { name: undefined }),
        actor: ACTOR,
      });
      setEditing(null);
      setProblem(null);
      setDone(`Segment #${id} saved.`);
      onChanged();
    } catch (err) {
      setProblem(problemOf(err));
    }
  };

  const seg = editing?.segment;
  const set = (patch) => setEditing({ ...editing, segment: { ...seg, ...patch } });
  return html`<section class="card" aria-labelledby="segments-title" data-testid="segments">
    <h2 id="segments-title">Segments</h2>
    ${problem && html`<p class="problem" role="alert" data-testid="segment-problem">${problem.message}</p>`}
    ${done && html`<p role="status">${done}</p>`}
    ${
      segments.length === 0
        ? html`<p>No segments yet.</p>`
        : html`<table class="numbers">
          <thead><tr><th scope="col">#</th><th scope="col">Name</th><th scope="col">Constraints (all must hold)</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            ${segments.map(
              (s) => html`<tr data-segment=${s.id}>
                <th scope="row">${s.id}</th><td>${s.name ?? ""}</td>
                <td>${s.constraints.map(summary).join("; ") || "none (everyone)"}</td>
                <td class="actions">
                  <button type="button" onClick=${() => setEditing({ isNew: false, segment: structuredClone(s) })}>Edit<span class="visually-hidden"> segment ${s.id}</span></button>
                  <button type="button" onClick=${() => remove(s)}>Delete<span class="visually-hidden"> segment ${s.id}</span></button>
                </td>
              </tr>`,
            )}
          </tbody>
        </table>`
    }
    ${
      seg
        ? html`<form class="segment-form" onSubmit=${save}>
          <h3>${editing.isNew ? "New segment" : `Segment #${seg.id}`}</h3>
          <label for="segment-id">Segment id</label>
          <input id="segment-id" type="number" min="0" step="1" required value=${seg.id} disabled=${!editing.isNew}
            onInput=${(e) => set({ id: e.currentTarget.value })} />
          <label for="segment-name">Segment name</label>
          <input id="segment-name" value=${seg.name ?? ""} autocomplete="off" onInput=${(e) => set({ name: e.currentTarget.value })}
            ...${invalidIf(problem?.path === "name", "segment-name")} />
          <${ConstraintEditor} constraints=${seg.constraints} onChange=${(c) => set({ constraints: c })}
            id="seg" path="constraints" problem=${problem} label="Constraints (all must hold)" of="the segment" />
          <div class="actions">
            <button type="submit">Save segment</button>
            <button type="button" onClick=${() => setEditing(null)}>Cancel</button>
          </div>
        </form>`
        : html`<button type="button" onClick=${startNew}>New segment</button>`
    }
  </section>`;
}
