import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { LogTail, RegionalStatus, Status } from "@baton/control";
import { formatDuration } from "@baton/control/client";
import { type Command, Option } from "commander";
import { type ApiTarget, callApi, findApi } from "../up/api-client.js";
import type { RouterStatus } from "../up/router-supervisor.js";
import { followRelease } from "./follow-release.js";
import {
  type AuditChain,
  auditWarning,
  decision,
  describe,
  type ReleaseView,
  routerLine,
  settingsLine,
  type Waiting,
  waitingLine,
  warmLine,
} from "./release-lines.js";

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

/** `GET /v1/status` as the client commands read it: fields of newer control planes are optional. */
type StatusView = (Status | RegionalStatus) & {
  router?: RouterStatus;
  waiting?: Waiting | null;
  auditChain?: AuditChain;
  release: ReleaseView | null;
};

/** How many past releases a deploy looks through for the version it names (the API's maximum). */
const HISTORY_LOOKUP = 1000;

/** The commands that talk to a running `baton up` through its HTTP API. */
export function registerClientCommands(program: Command): void {
  withCommon(
    program
      .command("deploy")
      .description("start a release (exit 0 when it succeeded, 1 when rolled back or failed, with --wait)")
      .option("--version <name>", "version name (default: a digest of the directory's files)")
      .option(
        "--dir <path>",
        "the release's directory (default: where --version was last released from; for a new version, here)",
      )
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
      warnIfChainBroken(await callApi<StatusView>(api, "GET", "/v1/status"));
      // A local release defaults to the current directory; a static one is named by its version.
      if (!o.version && !o.dir && !instances) o.dir = ".";
      // A version named for the first time is the one in this directory (where `baton deploy` is
      // run, beside baton.yaml); one released before is redeployed from where it was released from.
      if (o.version && !o.dir && !instances && !(await releasedBefore(api, o.version))) {
        o.dir = ".";
        if (!o.json) out(`${o.version} was never released: deploying this directory (${resolve(o.dir)})`);
      }
      if (o.dir) await assertDirectory(o.dir);
      const release = await callApi<ReleaseView>(api, "POST", "/v1/deploy", {
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
      const end = await followRelease(() => findApi(o), release.id, out);
      if (o.json) out(JSON.stringify(end, null, 2));
      process.exitCode = end.status === "succeeded" ? 0 : 1;
    },
  );

  withCommon(
    program.command("status").description("what serves, and the latest release with its decisions"),
  ).action(async (o: Common) => {
    const s = await callApi<StatusView>(await findApi(o), "GET", "/v1/status");
    if (o.json) return out(JSON.stringify(s, null, 2));
    if (s.auditChain && s.auditChain.ok === false) out(auditWarning(s.auditChain));
    if (s.router) out(routerLine(s.router));
    for (const one of "regions" in s ? s.regions : [s]) {
      if (!one.serving) out(`${one.service}: nothing serving`);
      else {
        out(`${one.service}: serving ${one.serving.version} on ${one.serving.instances.length} instances`);
        for (const i of one.serving.instances) out(`  ${i.address}  ${i.state}  pid ${i.pid}`);
      }
      if (one.warm) out(`  ${warmLine(one.warm)}`);
    }
    if (s.release) {
      out(`latest release ${describe(s.release)}`);
      // The new version's instances while the release is in flight (a canary, a batch).
      const fresh = Array.isArray(s.release.instances) ? s.release.instances : [];
      if (["starting", "progressing", "rolling-back"].includes(s.release.status) && fresh.length > 0)
        out(
          `  ${s.release.version} on ${fresh.length} instance${fresh.length === 1 ? "" : "s"}: ${fresh
            .map((r) => `${r.address ?? `127.0.0.1:${r.port}`} pid ${r.pid}`)
            .join(", ")}`,
        );
      if (s.waiting && typeof s.waiting.message === "string") out(`  ${waitingLine(s.waiting)}`);
      const settings =
        s.release.settings && typeof s.release.settings === "object" ? settingsLine(s.release.settings) : "";
      if (settings) out(`  settings: ${settings}`);
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
      .description(
        "back to the previous release: one switch while it is kept warm (keepPreviousFor), else it restarts all at once",
      )
      .addOption(
        new Option("--strategy <strategy>", "how to restart it when it is no longer warm").choices([
          "immediate",
          "canary",
          "rolling",
          "blue-green",
        ]),
      )
      .option("--wait", "follow the rollback until it ends"),
  ).action(async (o: Common & { wait?: boolean; strategy?: string }) => {
    const api = await findApi(o);
    warnIfChainBroken(await callApi<StatusView>(api, "GET", "/v1/status"));
    const release = await callApi<ReleaseView>(api, "POST", "/v1/rollback", {
      actor: actor(),
      ...(o.strategy ? { strategy: o.strategy } : {}),
    });
    out(`release ${release.id}: back to ${release.version} (${release.strategy})`);
    if (o.wait) {
      const end = await followRelease(() => findApi(o), release.id, out);
      process.exitCode = end.status === "succeeded" ? 0 : 1;
    }
  });

  withCommon(
    program
      .command("history")
      .description("past releases, newest first")
      .option("--limit <n>", "how many", "20"),
  ).action(async (o: Common & { limit: string }) => {
    const list = await callApi<ReleaseView[]>(
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
      .description("the last lines of the log of each instance that runs (--all: of every instance)")
      .option("--version <name>", "only this version's instances")
      .option("--lines <n>", "lines per instance", "50")
      .option("--all", "also the instances that stopped (earlier releases, failed starts)"),
  ).action(async (o: Common & { version?: string; lines: string; all?: boolean }) => {
    const q = new URLSearchParams({ lines: String(Number(o.lines) || 50) });
    if (o.version) q.set("version", o.version);
    const logs = await callApi<(LogTail & { live?: boolean })[]>(await findApi(o), "GET", `/v1/logs?${q}`);
    // A control plane that does not say which instances run: every log is shown.
    const shown = o.all ? logs : logs.filter((l) => l.live !== false);
    if (o.json) return out(JSON.stringify(shown, null, 2));
    for (const l of shown) {
      out(`== ${l.version} ${l.instance}${l.live === false ? " (stopped)" : ""} ==`);
      for (const line of l.lines) out(line);
    }
    const hidden = logs.length - shown.length;
    if (hidden > 0)
      out(`(${hidden} log${hidden === 1 ? "" : "s"} of stopped instances not shown; --all shows them)`);
    else if (logs.length === 0) out(`no instance logs${o.version ? ` of ${o.version}` : ""} yet`);
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
    const deadline = Date.now() + DOWN_MS;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      const up = await fetch(`${api.url}/v1/status`, { signal: AbortSignal.timeout(1000) }).then(
        () => true,
        () => false,
      );
      if (!up) return out("stopped");
    }
    throw new Error(`the control plane at ${api.url} still answers after ${formatDuration(DOWN_MS)}`);
  });
}

/** How long `baton down` waits for the control plane to exit (drains take their timeout). */
const DOWN_MS = 120_000;

/** Whether `version` of the service was ever released (it then has a directory to come from). */
async function releasedBefore(api: ApiTarget, version: string): Promise<boolean> {
  const list = await callApi<ReleaseView[]>(api, "GET", `/v1/releases?limit=${HISTORY_LOOKUP}`);
  return list.some((r) => r.version === version);
}

/** `baton up` runs on this machine: a directory that is not there would only fail the release later. */
async function assertDirectory(dir: string): Promise<void> {
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new Error(`--dir ${dir}: no such directory (${resolve(dir)})`);
}

/** Said on stderr before a deploy or rollback changes anything: it goes ahead all the same. */
function warnIfChainBroken(s: StatusView): void {
  if (s.auditChain && s.auditChain.ok === false)
    process.stderr.write(`baton: ${auditWarning(s.auditChain)}\n`);
}

function actor(): string {
  return process.env.BATON_ACTOR ?? process.env.USER ?? "cli";
}
