// A refused change names the field at fault: the API's message starts with its path
// (`invalid flag: strategies[1].parameters.rollout: ...`). The editors show it beside that field.
import { html } from "../html.js";

const PATH = /((?:strategies|variants|constraints|segments)(?:\[\d+\]|\.[A-Za-z_]\w*)*)/;

/** `{ path, message }` of an API error, the path as the server named it ("" when it names none). */
export function problemOf(error) {
  const message = error?.message ?? String(error);
  return { path: PATH.exec(message)?.[1] ?? "", message };
}

/** Whether `problem` is about `path` itself or something inside it. */
export function isAbout(problem, path) {
  if (!problem?.path) return false;
  const p = problem.path;
  return p === path || p.startsWith(`${path}.`) || p.startsWith(`${path}[`);
}

/** Attributes of an input `problem` may be about: aria-invalid, and the message as its description. */
export function invalidIf(about, id) {
  return about ? { "aria-invalid": "true", "aria-describedby": `${id}-problem` } : {};
}

/** The message under a field (its id is `${id}-problem`, which invalidIf points to). */
export function FieldProblem({ id, problem, show = true }) {
  if (!problem || !show) return null;
  return html`<p class="field-problem" id=${`${id}-problem`}>${problem.message}</p>`;
}
