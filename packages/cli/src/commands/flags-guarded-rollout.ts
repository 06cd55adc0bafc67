import type { RolloutView } from "@baton/control";
import { ApiError, type ApiTarget, callApi } from "../up/api-client.js";

export interface GuardedRolloutOptions {
  steps?: string;
  pause?: string;
  abort?: boolean;
  promote?: boolean;
  minRequests?: string;
  wait?: boolean;
  json?: boolean;
}

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
const ENDED = new Set(["succeeded", "rolled-back", "aborted"]);

/**
 * `baton flags rollout NAME --steps 5,25,50,100 --pause 30s`: starts a guarded rollout and follows
 * it to its end (unless --no-wait); `--abort` stops one, `--promote` passes its current step.
 * Exits 0 when it reached its last step, 1 when it was turned back or aborted.
 */
export async function guardedRolloutCommand(
  api: ApiTarget,
  name: string,
  o: GuardedRolloutOptions,
): Promise<void> {
  const path = `/v1/flags/${encodeURIComponent(name)}/guarded-rollout`;
  const actor = process.env.BATON_ACTOR ?? process.env.USER ?? "cli";
  if (o.abort || o.promote) {
    const r = await callApi<RolloutView>(api, "POST", `${path}/${o.abort ? "abort" : "promote"}`, { actor });
    if (o.json) return out(JSON.stringify(r, null, 2));
    out(`${name}: guarded rollout #${r.id} ${r.state} at ${r.percent}%: ${r.reason ?? ""}`);
    if (!o.abort) return o.wait === false ? undefined : follow(api, path, name, r);
    return;
  }
  const steps = parseSteps(o.steps ?? "");
  const body: Record<string, unknown> = { steps, actor };
  if (o.pause !== undefined) body.pause = o.pause;
  if (o.minRequests !== undefined) {
    const n = Number(o.minRequests);
    if (!Number.isInteger(n) || n < 1)
      throw new ApiError(
        "BATON_BAD_REQUEST",
        `--min-requests ${o.minRequests}: expected a whole number above 0`,
      );
    body.minRequests = n;
  }
  const started = await callApi<RolloutView>(api, "POST", path, body);
  if (o.json && o.wait === false) return out(JSON.stringify(started, null, 2));
  out(
    `${name}: guarded rollout #${started.id}: ${steps.map((p) => `${p}%`).join(" → ")}` +
      `${o.pause ? `, each step held at least ${o.pause}` : ""}, from ${started.lastGood}%`,
  );
  out(`  ${started.reason ?? ""}`);
  if (o.wait === false) return;
  await follow(api, path, name, started);
}

/** `baton flags rollout NAME`: the flag's guarded rollouts, newest first, the running one with its look. */
export async function showGuardedRollouts(
  api: ApiTarget,
  name: string,
  o: { json?: boolean },
): Promise<void> {
  const list = await callApi<RolloutView[]>(
    api,
    "GET",
    `/v1/flags/${encodeURIComponent(name)}/guarded-rollout`,
  );
  if (o.json) return out(JSON.stringify(list, null, 2));
  if (list.length === 0)
    return out(
      `${name}: no guarded rollout yet (baton flags rollout ${name} --steps 5,25,50,100 --pause 30s)`,
    );
  for (const r of list.slice(0, 5)) {
    out(
      `#${r.id} ${r.state} at ${r.percent}%  steps ${r.steps.map((p) => `${p}%`).join(" → ")}  by ${r.createdBy} ${r.createdAt.slice(0, 19).replace("T", " ")}`,
    );
    out(`  ${r.reason ?? ""}`);
    if (r.look)
      out(
        `  now: ${r.look.decision} after ${Math.round(r.look.stepElapsedMs / 1000)}s; requests on ${r.look.requests.on}, off ${r.look.requests.off}: ${r.look.reason}`,
      );
  }
}

/** Prints each change of the rollout until it ends; sets the exit code from how it ended. */
async function follow(api: ApiTarget, path: string, name: string, first: RolloutView): Promise<void> {
  let last = `${first.state}|${first.step}|${first.reason}`;
  let r = first;
  let waitingSaidAt = 0;
  // Ctrl-C stops the following, not the rollout: say so, and how to find it again.
  const interrupted = () => {
    process.stderr.write(
      `\nstopped following; guarded rollout #${first.id} of ${name} goes on in the control plane: baton flags rollout ${name} shows it, --abort stops it\n`,
    );
    process.exit(130);
  };
  process.once("SIGINT", interrupted);
  while (!ENDED.has(r.state)) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const list = await callApi<RolloutView[]>(api, "GET", path);
    r = list.find((x) => x.id === first.id) ?? r;
    const now = `${r.state}|${r.step}|${r.reason}`;
    if (now !== last) {
      out(`  ${r.state === "running" ? "" : `${r.state}: `}${r.reason ?? ""}`);
      last = now;
    } else if (r.look?.waitingFor && Date.now() - waitingSaidAt >= 10_000) {
      // What the step waits for: its numbers move every second, so said every 10 s at most.
      waitingSaidAt = Date.now();
      out(`  waiting at ${r.percent}%: ${r.look.waitingFor.reason}`);
    }
  }
  process.removeListener("SIGINT", interrupted);
  out(`${name}: ${r.state} at ${r.percent}%`);
  process.exitCode = r.state === "succeeded" ? 0 : 1;
}

function parseSteps(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const steps = parts.map(Number);
  const bad = parts.findIndex((s, i) => s === "" || !Number.isFinite(steps[i]));
  if (bad >= 0)
    throw new ApiError(
      "BATON_BAD_REQUEST",
      `--steps ${JSON.stringify(text)}: ${JSON.stringify(parts[bad])} is not a number; give percentages such as 5,25,50,100`,
    );
  return steps;
}
