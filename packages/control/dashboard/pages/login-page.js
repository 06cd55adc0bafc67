// Sign in: the API token, exchanged once for a session cookie (the token is not kept by the page).
import { useState } from "preact/hooks";
import { api } from "../api.js";
import { html } from "../html.js";

export function LoginPage({ onSession, notice }) {
  const [token, setToken] = useState("");
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      onSession(await api("POST", "/v1/session", { token: token.trim() }));
    } catch (err) {
      setProblem(err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="login">
    <h1>Baton dashboard</h1>
    ${notice && html`<p role="status" class="notice">${notice}</p>`}
    <form onSubmit=${submit} class="card">
      <label for="token">API token</label>
      <p class="hint" id="token-hint">In <code>.baton/api.token</code> next to baton.yaml, or open the one-time link <code>baton up</code> prints.</p>
      <input id="token" type="password" autocomplete="current-password" aria-describedby="token-hint" value=${token} onInput=${(e) => setToken(e.currentTarget.value)} required />
      <button type="submit" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button>
      ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    </form>
  </main>`;
}
