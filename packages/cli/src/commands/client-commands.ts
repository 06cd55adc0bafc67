import { resolve } from "node:path";
import type { DecisionRecord, LogTail, RegionalStatus, Release, Status } from "@baton/control";
import type { Command } from "commander";
import { type ApiTarget, callApi, findApi } from "../up/api-client.js";
import type { RouterStatus } from "../up/router-supervisor.js";

interface Common {
  api?: string;
  dataDir?: string;
  json?: boolean;
}

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
const withCommon = (cmd: Command) =>
  cmd
    .option("--api <url>", "the control plane's API (default: from .baton/api.json, or BATON_API)")
    .option("--data-dir <dir>", "where `baton up` keeps its state (default .baton)")
    .option("--json", "print the API's answer as JSON");

/** The commands that talk to a running `baton up` through its HTTP API. */
export function registerClientCommands(program: Command): void {
  withCommon(
    program
      .command("deploy")
      .description("start a release (exit 0 when it succeeded, 1 when rolled back or failed, with --wait)")
      .option("--version <name>", "version name (default: a digest of the directory's files)")
      .option("--dir <path>", "the release's directory (default: where --version was last released from)")
      .option("--strategy <name>", "rolling, blue-green or canary (default: baton.yaml's)")
      .option("--env <KEY=VALUE...>", "environment for the new instances")
      .option("--instances <host:port,...>", "static provider: the new version's instances")
      .option("--wait", "follow the release until it ends"),
  ).action(
    async (
      o: Common & {
        version?: string;
        dir?: string;
        strategy?: string;
        env?: string[];
        wait?: boolean;
        instances?: string;
      },
    ) => {
      const api = await findApi(o);
      const env = Object.fromEntries(
        (o.env ?? []).map((kv) => {
          const i = kv.indexOf("=");
          if (i <= 0) throw new Error(`--env ${kv}: expected KEY=VALUE`);
          return [kv.slice(0, i), kv.slice(i + 1)];
        }),
      );
      const instances = o.instances
        ?.split(",")
        .map((a) => a.trim())
        .filter(Boolean);
      // A local release defaults to the current directory; a static one is named by its version.
      if (!o.version && !o.dir && !instances) o.dir = ".";
      const release = await callApi<Release>(api, "POST", "/v1/deploy", {
        ...(o.version ? { version: o.version } : {}),
        ...(o.dir ? { dir: resolve(o.dir) } : {}),
        ...(o.strategy ? { strategy: o.strategy } : {}),
        ...(instances ? { instances } : {}),
        env,
        actor: actor(),
      });
      if (!o.wait) {
        if (o.json) return out(JSON.stringify(release, null, 2));
        return out(`release ${release.id} of ${release.version} (${release.strategy}) started`);
      }
      out(`release ${release.id} of ${release.version} (${release.strategy}) started`);
      const end = await follow(() => findApi(o), release.id);
      if (o.json) out(JSON.stringify(end, null, 2));
      process.exitCode = end.status === "succeeded" ? 0 : 1;
    },
  );

  withCommon(
    program.command("status").description("what serves, and the latest release with its decisions"),
  ).action(async (o: Common) => {
    const s = await callApi<(Status | RegionalStatus) & { router?: RouterStatus }>(
      await findApi(o),
      "GET",
      "/v1/status",
    );
    if (o.json) return out(JSON.stringify(s, null, 2));
    if (s.router) out(routerLine(s.router));
    for (const one of "regions" in s ? s.regions : [s]) {
      if (!one.serving) out(`${one.service}: nothing serving`);
      else {
        out(`${one.service}: serving ${one.serving.version} on ${one.serving.instances.length} instances`);
        for (const i of one.serving.instances) out(`  ${i.address}  ${i.state}  pid ${i.pid}`);
      }
      if (one.warm)
        out(`  ${one.warm.version} kept warm until ${one.warm.until} (baton rollback is one switch)`);
    }
    if (s.release) {
      out(`latest release ${describe(s.release)}`);
      for (const d of s.decisions) out(`  ${decision(d)}`);
    }
  });

  withCommon(program.command("promote").description("let the release in flight past its pause")).action(
    async (o: Common) => {
      await callApi(await findApi(o), "POST", "/v1/promote", { actor: actor() });
      out("promoted: the canary moves one step on at its next look (unless its analysis fails it)");
    },
  );

  withCommon(program.command("abort").description("roll the release in flight back now")).action(
    async (o: Common) => {
      await callApi(await findApi(o), "POST", "/v1/abort", { actor: actor() });
      out("aborting: traffic goes back to the serving version at the next look");
    },
  );

  withCommon(
    program
      .command("rollback")
      .description("back to the previous release (one switch while blue-green keeps it warm)")
      .option("--wait", "follow the rollback until it ends"),
  ).action(async (o: Common & { wait?: boolean }) => {
    const api = await findApi(o);
    const release = await callApi<Release>(api, "POST", "/v1/rollback", { actor: actor() });
    out(`release ${release.id}: back to ${release.version} (${release.strategy})`);
    if (o.wait) {
      const end = await follow(() => findApi(o), release.id);
      process.exitCode = end.status === "succeeded" ? 0 : 1;
    }
  });

  withCommon(
    program
      .command("history")
      .description("past releases, newest first")
      .option("--limit <n>", "how many", "20"),
  ).action(async (o: Common & { limit: string }) => {
    const list = await callApi<Release[]>(
      await findApi(o),
      "GET",
      `/v1/releases?limit=${Number(o.limit) || 20}`,
    );
    if (o.json) return out(JSON.stringify(list, null, 2));
    for (const r of list) out(`${r.createdAt.slice(0, 19).replace("T", " ")}  ${describe(r)}`);
  });

  withCommon(
    program
      .command("logs")
      .description("the last lines of each instance's log")
      .option("--version <name>", "only this version's instances")
      .option("--lines <n>", "lines per instance", "50"),
  ).action(async (o: Common & { version?: string; lines: string }) => {
    const q = new URLSearchParams({ lines: String(Number(o.lines) || 50) });
    if (o.version) q.set("version", o.version);
    const logs = await callApi<LogTail[]>(await findApi(o), "GET", `/v1/logs?${q}`);
    if (o.json) return out(JSON.stringify(logs, null, 2));
    for (const l of logs) {
      out(`== ${l.version} ${l.instance} ==`);
      for (const line of l.lines) out(line);
    }
  });

  const audit = program.command("audit").description("the hash-chained audit log");
  withCommon(
    audit.command("verify").description("check that no event was changed, removed or reordered"),
  ).action(async (o: Common) => {
    const r = await callApi<{ rows: number; problems: { seq: number; problem: string; detail: string }[] }>(
      await findApi(o),
      "GET",
      "/v1/audit/verify",
    );
    if (o.json) out(JSON.stringify(r, null, 2));
    else if (r.problems.length === 0) out(`audit log: ${r.rows} events, chain verified`);
    else {
      out(`audit log: ${r.rows} events, ${r.problems.length} problem(s):`);
      for (const p of r.problems) out(`  event ${p.seq}: ${p.problem}: ${p.detail}`);
    }
    process.exitCode = r.problems.length === 0 ? 0 : 1;
  });

  withCommon(
    program.command("down").description("stop the service's instances, its router and `baton up`"),
  ).action(async (o: Common) => {
    const api = await findApi(o);
    await callApi(api, "POST", "/v1/down");
    out("stopping: instances drain, then the router and the control plane exit");
    // Done when the control plane no longer answers (bounded: drains take their timeout).
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      const up = await fetch(`${api.url}/v1/status`, { signal: AbortSignal.timeout(1000) }).then(
        () => true,
        () => false,
      );
      if (!up) return out("stopped");
    }
    throw new Error(`the control plane at ${api.url} still answers after 120s`);
  });
}

/** Prints the release's progress (status, step, decisions) until it ends; returns it. */
/** How long `--wait` waits for a control plane that went away (killed, restarted) to answer again. */
const REGAIN_MS = 120_000;

/**
 * Prints a release's progress until it ends. A control plane that stops answering meanwhile (its
 * `baton up` killed and started again) is waited for: the release resumes there, so it is
 * followed to its end rather than reported as a failure of the command.
 */
async function follow(find: () => Promise<ApiTarget>, id: number): Promise<Release> {
  let seen = 0;
  let last = "";
  let api = await find();
  let lostSince = 0;
  for (;;) {
    let answer: { release: Release; decisions: DecisionRecord[] };
    try {
      answer = await callApi(api, "GET", `/v1/releases/${id}`);
      lostSince = 0;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== "BATON_API_UNREACHABLE" && code !== "BATON_NOT_UP") throw err;
      if (lostSince === 0) {
        lostSince = Date.now();
        out(
          `  ${clock()}  the control plane does not answer; waiting up to ${REGAIN_MS / 1000}s for it (baton up)`,
        );
      }
      if (Date.now() - lostSince > REGAIN_MS) throw err;
      await new Promise((r) => setTimeout(r, 1000));
      api = await find().catch(() => api); // a restarted `baton up` may listen elsewhere
      continue;
    }
    const { release, decisions } = answer;
    const now = `${release.status} step ${release.step + 1}`;
    if (now !== last) {
      out(
        `  ${clock()}  ${release.status}${release.status === "progressing" ? `, step ${release.step + 1}` : ""}`,
      );
      last = now;
    }
    for (const d of decisions.slice(seen)) out(`  ${clock()}  ${decision(d)}`);
    seen = decisions.length;
    if (!["starting", "progressing", "rolling-back"].includes(release.status)) {
      out(`release ${describe(release)}`);
      return release;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The supervised router in one line: what runs, and whether and why it was restarted. */
function routerLine(r: RouterStatus): string {
  const time = (iso: string) => `${iso.slice(0, 19).replace("T", " ")}Z`;
  const head =
    r.state === "running"
      ? `router: pid ${r.pid} on ${r.url}, running since ${time(r.since)}`
      : r.state === "restarting"
        ? `router: DOWN (pid ${r.pid} gone), being restarted${r.nextAttemptAt ? ` (next attempt ${time(r.nextAttemptAt)})` : ""}${r.lastError ? `; last attempt failed: ${r.lastError}` : ""}`
        : `router: pid ${r.pid} (no longer supervised: baton up is stopping)`;
  const last = r.lastRestart;
  if (r.restarts === 0) return r.state === "running" ? `${head}, never restarted` : head;
  return `${head}; restarted ${r.restarts} time${r.restarts === 1 ? "" : "s"}${last ? ` (last ${time(last.at)}, down ${last.downMs} ms: ${last.reason})` : ""}`;
}

function describe(r: Release): string {
  return `${r.id}: ${r.version} (${r.strategy}${r.previousVersion ? ` from ${r.previousVersion}` : ""}) ${r.status}${r.reason ? `: ${r.reason}` : ""}`;
}

function decision(d: DecisionRecord): string {
  return `step ${d.step + 1} analysis ${d.decision}: ${d.reason}`;
}

function actor(): string {
  return process.env.BATON_ACTOR ?? process.env.USER ?? "cli";
}

const clock = () => new Date().toISOString().slice(11, 19);
