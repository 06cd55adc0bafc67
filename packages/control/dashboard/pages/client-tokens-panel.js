// The SDKs' client tokens: list, create (the token is shown once), revoke. Like Unleash's API
// access page; an SDK's token reads flags and nothing else.
import { useEffect, useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { when } from "../format.js";
import { html } from "../html.js";

export function ClientTokensPanel() {
  const [tokens, setTokens] = useState(null);
  const [name, setName] = useState("");
  const [created, setCreated] = useState(null);
  const [problem, setProblem] = useState(null);
  const load = () => api("GET", "/v1/flags/tokens").then(setTokens, (e) => setProblem(e.message));
  useEffect(() => void load(), []);

  const create = async (e) => {
    e.preventDefault();
    try {
      const answer = await api("POST", "/v1/flags/tokens", { name: name.trim(), actor: ACTOR });
      setCreated(answer);
      setName("");
      setProblem(null);
      await load();
    } catch (err) {
      setProblem(`Creating the token was refused: ${err.message}`);
    }
  };
  const revoke = async (tokenName) => {
    if (
      !window.confirm(
        `Revoke the client token ${tokenName}? SDKs using it are refused from their next request.`,
      )
    )
      return;
    try {
      await api("DELETE", `/v1/flags/tokens/${encodeURIComponent(tokenName)}`, { actor: ACTOR });
      setProblem(null);
      await load();
    } catch (err) {
      setProblem(`Revoking ${tokenName} was refused: ${err.message}`);
    }
  };

  return html`<section class="card" aria-labelledby="tokens-title">
    <h2 id="tokens-title">Client tokens (SDKs)</h2>
    ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    ${
      created &&
      html`<p role="status" class="notice" data-testid="new-token">
      Token ${created.name}: <code>${created.token}</code> (shown once: give it to the service now).
    </p>`
    }
    ${
      tokens?.length > 0 &&
      html`<table class="numbers" data-testid="tokens">
      <thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Actions</th></tr></thead>
      <tbody>
        ${tokens.map(
          (t) => html`<tr data-token=${t.name}>
            <th scope="row">${t.name}</th>
            <td>${when(t.createdAt)} by ${t.createdBy}</td>
            <td>${t.lastUsedAt ? when(t.lastUsedAt) : "never"}</td>
            <td><button onClick=${() => revoke(t.name)} aria-label=${`Revoke ${t.name}`}>Revoke</button></td>
          </tr>`,
        )}
      </tbody>
    </table>`
    }
    ${tokens?.length === 0 && html`<p>No client tokens yet.</p>`}
    <form class="rollout" onSubmit=${create}>
      <label for="token-name">New token's name</label>
      <input id="token-name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} required autocomplete="off" />
      <button type="submit">Create token</button>
    </form>
  </section>`;
}
