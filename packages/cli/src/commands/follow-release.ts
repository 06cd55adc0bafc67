import type { DecisionRecord } from "@baton/control";
import { formatDuration } from "@baton/control/client";
import { type ApiTarget, callApi } from "../up/api-client.js";
import { decision, describe, type ReleaseView, type Waiting, waitingLine } from "./release-lines.js";

/** How long `--wait` waits for a control plane that went away (killed, restarted) to answer again. */
const REGAIN_MS = 120_000;
/** A waiting message whose numbers alone changed ("≈ 9s", then "≈ 8s") is said again this often. */
const WAITING_REPEAT_MS = 10_000;

const IN_FLIGHT = ["starting", "progressing", "rolling-back"];

/**
 * Prints a release's progress until it ends, and returns it. Causes come before their effects:
 * the analysis verdicts of the step the release was at are printed before the status change they
 * led to (a failed analysis, then "rolling-back"). A control plane that stops answering meanwhile
 * (its `baton up` killed and started again) is waited for: the release resumes there, so it is
 * followed to its end rather than reported as a failure of the command.
 */
export async function followRelease(
  find: () => Promise<ApiTarget>,
  id: number,
  out: (line: string) => void,
): Promise<ReleaseView> {
  let seen = 0;
  let lastStatus = "";
  let lastStep = 0;
  let api = await find();
  let lostSince = 0;
  let said: { shape: string; text: string; at: number } | undefined;
  const clock = () => new Date().toISOString().slice(11, 19);
  const say = (line: string) => out(`  ${clock()}  ${line}`);
  const followedSince = Date.now();
  for (;;) {
    let answer: { release: ReleaseView; decisions: DecisionRecord[] };
    try {
      answer = await callApi(api, "GET", `/v1/releases/${id}`);
      lostSince = 0;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== "BATON_API_UNREACHABLE" && code !== "BATON_NOT_UP") throw err;
      if (lostSince === 0) {
        lostSince = Date.now();
        say(
          `the control plane does not answer; waiting up to ${formatDuration(REGAIN_MS)} for it (baton up)`,
        );
      }
      if (Date.now() - lostSince > REGAIN_MS) throw err;
      await new Promise((r) => setTimeout(r, 1000));
      api = await find().catch(() => api); // a restarted `baton up` may listen elsewhere
      continue;
    }
    const { release, decisions } = answer;
    const fresh = decisions.slice(seen);
    seen = decisions.length;
    // A verdict reached at a step already shown, or at one the release has since left, caused the
    // change now seen (a failed analysis, then "rolling-back"; a pass, then the next step).
    const causes = fresh.filter((d) => d.step <= lastStep || d.step < release.step);
    for (const d of causes) say(decision(d));
    const now = `${release.status} step ${release.step}`;
    if (now !== lastStatus) {
      say(`${release.status}${release.status === "progressing" ? `, step ${release.step + 1}` : ""}`);
      lastStatus = now;
      lastStep = Math.max(lastStep, release.step);
    }
    for (const d of fresh.filter((d) => !causes.includes(d))) say(decision(d));
    if (!IN_FLIGHT.includes(release.status)) {
      out(`release ${describe(release)}`);
      return release;
    }
    const waiting = await waitingOf(api, id);
    if (waiting) {
      const shape = `${waiting.kind} ${waiting.message.replace(/\d+(\.\d+)?/g, "#")}`;
      const changed = !said || said.shape !== shape;
      const numbersMoved = said && said.text !== waiting.message && Date.now() - said.at >= WAITING_REPEAT_MS;
      if (changed || numbersMoved) {
        say(waitingLine(waiting));
        said = { shape, text: waiting.message, at: Date.now() };
      }
    } else said = undefined;
    // Quick looks first: an instant rollback is over in a fraction of a second.
    await new Promise((r) => setTimeout(r, Date.now() - followedSince < 5000 ? 150 : 500));
  }
}

/** What the release `id` waits for, if it is the one in flight and the control plane says. */
async function waitingOf(api: ApiTarget, id: number): Promise<Waiting | null> {
  const s = await callApi<{ release?: { id: number } | null; waiting?: Waiting | null }>(
    api,
    "GET",
    "/v1/status",
  ).catch(() => undefined);
  if (!s || s.release?.id !== id || !s.waiting || typeof s.waiting.message !== "string") return null;
  return s.waiting;
}
