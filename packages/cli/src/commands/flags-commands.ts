import { readFile, stat } from "node:fs/promises";
import type {
  FlagChange,
  FlagCounts,
  FlagRecord,
  RolloutView,
  ScheduledChange,
  StaleFlag,
} from "@baton/control";
import { describeScheduled } from "@baton/control/client";
import type { Command } from "commander";
import { ApiError, callApi, findApi } from "../up/api-client.js";
import {
  type GuardedRolloutOptions,
  guardedRolloutCommand,
  showGuardedRollouts,
} from "./flags-guarded-rollout.js";

interface Common {
  api?: string;
  dataDir?: string;
  json?: boolean;
}

type Strategy = FlagRecord["flag"]["strategies"][number];

const AT_HELP =
  "schedule it instead: an ISO 8601 date-time with a zone (e.g. 2026-12-01T09:00Z or 2026-12-01T10:00+01:00), within a year";

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
const withCommon = (cmd: Command) =>
  cmd
    .option("--api <url>", "the control plane's API (default: from .baton/api.json, or BATON_API)")
    .option("--data-dir <dir>", "where `baton up` keeps its state (default .baton)")
    .option("--json", "print the API's answer as JSON");

/** No flag file is anywhere near this; a bigger one is a mistake (and over the API's body limit). */
const MAX_FLAG_FILE_BYTES = 1024 * 1024;

/** `baton flags ...`: feature flags on a running control plane. */
export function registerFlagsCommands(program: Command): void {
  const flags = program
    .command("flags")
    .description("feature flags: list, change, apply files, client tokens");

  withCommon(
    flags
      .command("apply <file>")
      .description(
        "create or replace the flags of a YAML or JSON file (a list of flags, {features, segments}, or Unleash's export): all or nothing",
      ),
  ).action(async (file: string, o: Common) => {
    // The flag file's parser loads the flags engine and its schemas: only for `apply`.
    const { parseFlagFile } = await import("@baton/control");
    const parsed = parseFlagFile(await readFlagFile(file), file);
    const api = await findApi(o);
    const result = await callApi<{
      created: string[];
      changed: string[];
      unchanged: string[];
      segments: number[];
    }>(api, "POST", "/v1/flags/apply", {
      flags: parsed.flags,
      segments: parsed.segments,
      actor: actor(),
    }).catch((err: unknown) => {
      // The control plane checks segment references against what it stores: name the file too.
      if (err instanceof ApiError && err.code === "BATON_BAD_REQUEST")
        throw new ApiError(err.code, `${file}: ${err.message}`);
      throw err;
    });
    if (o.json) return out(JSON.stringify(result, null, 2));
    const names = (list: string[]) => (list.length ? list.join(", ") : "none");
    out(`${file} (${parsed.format}): ${parsed.flags.length} flag${parsed.flags.length === 1 ? "" : "s"}`);
    out(`  created: ${names(result.created)}`);
    out(`  changed: ${names(result.changed)}`);
    out(`  unchanged: ${result.unchanged.length}`);
    if (result.segments.length) out(`  segments created or changed: ${result.segments.join(", ")}`);
  });

  withCommon(flags.command("list").description("every flag: on or off, version, strategies")).action(
    async (o: Common) => {
      const list = await callApi<FlagRecord[]>(await findApi(o), "GET", "/v1/flags");
      if (o.json) return out(JSON.stringify(list, null, 2));
      if (list.length === 0) return out("no flags yet (baton flags apply FILE)");
      const width = Math.max(...list.map((r) => r.name.length));
      for (const r of list)
        out(
          `${r.name.padEnd(width)}  ${r.flag.enabled ? "on " : "off"}  v${r.version}  ${strategiesLine(r.flag.strategies)}`,
        );
    },
  );

  withCommon(
    flags.command("get <name>").description("one flag: its definition, version and evaluations"),
  ).action(async (name: string, o: Common) => {
    const api = await findApi(o);
    const r = await callApi<FlagRecord & { metrics: FlagCounts | null }>(
      api,
      "GET",
      `/v1/flags/${encodeURIComponent(name)}`,
    );
    if (o.json) return out(JSON.stringify(r, null, 2));
    // A rollout in flight is part of what the flag is doing now (a control plane without guarded
    // rollouts answers 404 here: nothing to add).
    const rollouts = await callApi<RolloutView[]>(
      api,
      "GET",
      `/v1/flags/${encodeURIComponent(name)}/guarded-rollout`,
    ).catch(() => []);
    const active = rollouts.find((x) => x.state === "running" || x.state === "paused");
    if (active)
      out(
        `guarded rollout #${active.id} ${active.state} at ${active.percent}% (steps ${active.steps.join(", ")}): ${active.reason ?? ""}`,
      );
    out(
      `${r.name}: ${r.flag.enabled ? "on" : "off"}, version ${r.version}, changed ${r.updatedAt} by ${r.updatedBy}`,
    );
    if (r.metrics)
      out(
        `evaluations since the control plane started: ${r.metrics.yes} on, ${r.metrics.no} off` +
          (Object.keys(r.metrics.variants).length
            ? ` (${Object.entries(r.metrics.variants)
                .map(([v, n]) => `${v}: ${n}`)
                .join(", ")})`
            : ""),
      );
    out(JSON.stringify(r.flag, null, 2));
  });

  for (const action of ["enable", "disable"] as const)
    withCommon(
      flags
        .command(`${action} <name>`)
        .description(
          action === "enable" ? "turn a flag on (its strategies decide for whom)" : "turn a flag off",
        )
        .option("--reason <text>", "why (kept in the flag's history and the audit log)")
        .option("--at <when>", AT_HELP),
    ).action(async (name: string, o: Common & { reason?: string; at?: string }) => {
      const path = `/v1/flags/${encodeURIComponent(name)}/${action}`;
      const body = { actor: actor(), ...reasonOf(o) };
      if (o.at !== undefined) return scheduled(await findApi(o), path, body, o);
      const r = await callApi<FlagRecord>(await findApi(o), "POST", path, body);
      if (o.json) return out(JSON.stringify(r, null, 2));
      out(`${r.name}: ${r.flag.enabled ? "on" : "off"} (version ${r.version})`);
    });

  withCommon(
    flags
      .command("rollout <name>")
      .description(
        "set the percentage of the flag's first flexibleRollout strategy, or move it step by step, judged (--steps)",
      )
      .option("--percent <n>", "0 to 100")
      .option(
        "--steps <list>",
        "a guarded rollout: these percentages in turn (e.g. 5,25,50,100), each judged on requests with the flag on against off",
      )
      .option("--pause <duration>", "with --steps: how long each step holds at least (e.g. 30s)")
      .option(
        "--min-requests <n>",
        "with --steps: requests with the flag on a step needs before it may pass (default 1000)",
      )
      .option("--abort", "stop the flag's guarded rollout; the flag goes back to its last good percentage")
      .option(
        "--promote",
        "take the current step of the flag's guarded rollout as passed (e.g. a paused one)",
      )
      .option("--no-wait", "with --steps or --promote: return at once instead of following the rollout")
      .option("--reason <text>", "with --percent: why (kept in the flag's history and the audit log)")
      .option("--at <when>", `with --percent: ${AT_HELP}`),
  ).action(
    async (
      name: string,
      o: Common & GuardedRolloutOptions & { percent?: string; reason?: string; at?: string },
    ) => {
      if (o.at !== undefined && (o.steps !== undefined || o.abort || o.promote))
        throw new ApiError(
          "BATON_BAD_REQUEST",
          `--at goes with --percent only: a guarded rollout (--steps) or its --abort happens now; schedule a percentage with --percent N --at WHEN`,
        );
      if (o.steps !== undefined || o.abort || o.promote)
        return guardedRolloutCommand(await findApi(o), name, o);
      if (o.percent === undefined) return showGuardedRollouts(await findApi(o), name, o);
      const percent = Number(o.percent);
      if (o.percent.trim() === "" || !Number.isFinite(percent) || percent < 0 || percent > 100)
        throw new ApiError("BATON_BAD_REQUEST", `--percent ${o.percent}: expected a number from 0 to 100`);
      const path = `/v1/flags/${encodeURIComponent(name)}/rollout`;
      const body = { percent, actor: actor(), ...reasonOf(o) };
      if (o.at !== undefined) return scheduled(await findApi(o), path, body, o);
      const r = await callApi<FlagRecord>(await findApi(o), "POST", path, body);
      if (o.json) return out(JSON.stringify(r, null, 2));
      out(
        `${r.name}: ${strategiesLine(r.flag.strategies)} (version ${r.version}${r.flag.enabled ? "" : ", flag is off"})`,
      );
    },
  );

  withCommon(
    flags
      .command("delete <name>")
      .description("delete a flag (SDKs then answer it as off); its history and audit events stay")
      .option("--reason <text>", "why (kept in the flag's history and the audit log)"),
  ).action(async (name: string, o: Common & { reason?: string }) => {
    const r = await callApi<{ deleted: true; name: string }>(
      await findApi(o),
      "DELETE",
      `/v1/flags/${encodeURIComponent(name)}`,
      { actor: actor(), ...reasonOf(o) },
    );
    if (o.json) return out(JSON.stringify(r, null, 2));
    out(`${r.name}: deleted`);
  });

  withCommon(
    flags
      .command("history <name>")
      .description("a flag's changes, newest first: who, when, what")
      .option("--limit <n>", "how many", "20"),
  ).action(async (name: string, o: Common & { limit: string }) => {
    const limit = Math.min(1000, Math.max(1, Number(o.limit) || 20));
    const list = await callApi<FlagChange[]>(
      await findApi(o),
      "GET",
      `/v1/flags/${encodeURIComponent(name)}/history?limit=${limit}`,
    );
    if (o.json) return out(JSON.stringify(list, null, 2));
    if (list.length === 0) return out(`no changes of ${name}`);
    for (const c of list)
      out(
        `${c.at.slice(0, 19).replace("T", " ")}  ${c.action.padEnd(12)}  v${c.version}  ${c.actor}  ${changeLine(c)}` +
          (c.reason ? `  (${c.reason})` : ""),
      );
  });

  const schedule = withCommon(
    flags
      .command("schedule")
      .description("scheduled changes: those pending, and the last ones made, failed or cancelled"),
  ).action(async (o: Common) => {
    const list = await callApi<{ pending: ScheduledChange[]; recent: ScheduledChange[] }>(
      await findApi(o),
      "GET",
      "/v1/flags/schedule",
    );
    if (o.json) return out(JSON.stringify(list, null, 2));
    if (list.pending.length === 0) out("no changes scheduled");
    for (const c of list.pending)
      out(
        `#${c.id}  ${c.at}  ${describeScheduled(c)}  by ${c.createdBy}${c.reason ? `  (${c.reason})` : ""}`,
      );
    if (list.recent.length) out("\nlast made, failed or cancelled:");
    for (const c of list.recent.slice(0, 10))
      out(`#${c.id}  ${c.state.padEnd(9)}  ${describeScheduled(c)} at ${c.at}: ${c.result ?? ""}`);
  });
  withCommon(schedule.command("cancel <id>").description("cancel a pending scheduled change")).action(
    async (id: string, o: Common) => {
      if (!/^[1-9]\d{0,15}$/.test(id))
        throw new ApiError(
          "BATON_BAD_REQUEST",
          `${id}: expected the number of a scheduled change (baton flags schedule lists them)`,
        );
      const c = await callApi<ScheduledChange>(await findApi(o), "DELETE", `/v1/flags/schedule/${id}`, {
        actor: actor(),
      });
      if (o.json) return out(JSON.stringify(c, null, 2));
      out(`cancelled #${c.id}: ${describeScheduled(c)} at ${c.at}`);
    },
  );

  withCommon(
    flags
      .command("stale")
      .description("flags on or off for everyone and unchanged for a while: remove them, and their code")
      .option("--older-than <duration>", "unchanged for at least this long (e.g. 30d, 12h, 90m)", "30d"),
  ).action(async (o: Common & { olderThan: string }) => {
    const r = await callApi<{ olderThan: string; flags: StaleFlag[] }>(
      await findApi(o),
      "GET",
      `/v1/flags/stale?olderThan=${encodeURIComponent(o.olderThan)}`,
    ).catch((err: unknown) => {
      if (err instanceof ApiError && err.code === "BATON_BAD_REQUEST")
        throw new ApiError(
          err.code,
          `--older-than ${o.olderThan}: ${err.message.replace(/^olderThan: /, "")}`,
        );
      throw err;
    });
    if (o.json) return out(JSON.stringify(r, null, 2));
    if (r.flags.length === 0)
      return out(`no flag has been on or off for everyone for ${r.olderThan} or more`);
    const width = Math.max(...r.flags.map((f) => f.name.length));
    for (const f of r.flags) out(`${f.name.padEnd(width)}  ${f.hint}`);
  });

  withCommon(
    flags.command("export").description("every flag and segment as JSON, as `baton flags apply` takes it"),
  ).action(async (o: Common) => {
    out(JSON.stringify(await callApi(await findApi(o), "GET", "/v1/flags/export"), null, 2));
  });

  const token = flags
    .command("token")
    .description(
      "client tokens for SDKs: they read flags and report outcomes and release metrics (numbers the analysis acts on): give them only to your services",
    );
  withCommon(
    token
      .command("create")
      .description("make a client token; it is printed this once")
      .requiredOption("--name <name>", "what it is for, e.g. the application's name"),
  ).action(async (o: Common & { name: string }) => {
    const made = await callApi<{ name: string; token: string }>(
      await findApi(o),
      "POST",
      "/v1/flags/tokens",
      {
        name: o.name,
        actor: actor(),
      },
    );
    if (o.json) return out(JSON.stringify(made, null, 2));
    out(made.token);
    process.stderr.write(`client token ${made.name}: shown this once; only its SHA-256 is kept\n`);
  });
  withCommon(
    token
      .command("revoke <name>")
      .description("revoke a client token: SDKs using it are refused from now on"),
  ).action(async (name: string, o: Common) => {
    const r = await callApi<{ name: string; revoked: true }>(
      await findApi(o),
      "DELETE",
      `/v1/flags/tokens/${encodeURIComponent(name)}`,
      { actor: actor() },
    );
    if (o.json) return out(JSON.stringify(r, null, 2));
    out(`client token ${r.name}: revoked`);
  });
  withCommon(token.command("list").description("client tokens: names, creation, last use")).action(
    async (o: Common) => {
      const list = await callApi<{ name: string; createdAt: string; lastUsedAt: string | null }[]>(
        await findApi(o),
        "GET",
        "/v1/flags/tokens",
      );
      if (o.json) return out(JSON.stringify(list, null, 2));
      for (const t of list) out(`${t.name}  created ${t.createdAt}  last used ${t.lastUsedAt ?? "never"}`);
    },
  );
}

async function readFlagFile(file: string): Promise<string> {
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new ApiError("BATON_BAD_REQUEST", `${file}: cannot read it (${err.code ?? err.message})`);
  });
  if (!info.isFile()) throw new ApiError("BATON_BAD_REQUEST", `${file}: not a regular file`);
  if (info.size > MAX_FLAG_FILE_BYTES)
    throw new ApiError(
      "BATON_BAD_REQUEST",
      `${file}: ${info.size} bytes; a flag file is at most ${MAX_FLAG_FILE_BYTES}`,
    );
  return readFile(file, "utf8");
}

/** `flexibleRollout 25% (userId), userWithId`: what decides who gets the flag. */
function strategiesLine(strategies: readonly Strategy[]): string {
  // As Unleash evaluates it: an enabled flag with no strategies is on for everyone.
  if (strategies.length === 0) return "no strategies (on for everyone while enabled)";
  return strategies
    .map((s) => {
      const p = s.parameters ?? {};
      const percent = p.rollout ?? p.percentage;
      const constraints = s.constraints?.length ? ` +${s.constraints.length} constraint(s)` : "";
      return `${s.name}${percent !== undefined ? ` ${percent}%` : ""}${p.stickiness ? ` (${p.stickiness})` : ""}${constraints}`;
    })
    .join(", ");
}

/** What a change did, in a few words. */
function changeLine(c: FlagChange): string {
  const before = c.before as FlagRecord["flag"] | null;
  const after = c.after as FlagRecord["flag"] | null;
  if (!before && after) return `created ${after.enabled ? "on" : "off"}: ${strategiesLine(after.strategies)}`;
  if (before && !after) return "deleted";
  if (!before || !after) return "";
  const parts: string[] = [];
  if (before.enabled !== after.enabled) parts.push(after.enabled ? "turned on" : "turned off");
  const was = strategiesLine(before.strategies);
  const now = strategiesLine(after.strategies);
  if (was !== now) parts.push(`${was} -> ${now}`);
  return parts.join("; ") || "definition changed";
}

/** Sends a change with `--at`, and says what was scheduled. */
async function scheduled(
  api: Awaited<ReturnType<typeof findApi>>,
  path: string,
  body: Record<string, unknown>,
  o: Common & { at?: string },
): Promise<void> {
  const c = await callApi<ScheduledChange>(api, "POST", path, { ...body, at: o.at }).catch((err: unknown) => {
    if (err instanceof ApiError && err.code === "BATON_BAD_REQUEST" && err.message.startsWith("at: "))
      throw new ApiError(err.code, `--at ${o.at}: ${err.message.slice(4)}`);
    throw err;
  });
  if (o.json) return out(JSON.stringify(c, null, 2));
  out(`scheduled #${c.id}: ${describeScheduled(c)} at ${c.at}`);
}

const reasonOf = (o: { reason?: string }) => (o.reason !== undefined ? { reason: o.reason } : {});

function actor(): string {
  return process.env.BATON_ACTOR ?? process.env.USER ?? "cli";
}
