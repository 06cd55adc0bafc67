#!/usr/bin/env node
// The control plane of the flag benchmark's propagation part, in a process of its own so that its
// memory is its alone: a FlagService and the API (as `baton up` serves them, and as
// packages/control/src/test-support/flag-fixture.ts builds them) over a fresh schema, the benchmark's
// flags applied, one client token. Talks to bench/flags-bench.js over IPC:
//   -> {type: "ready", url, adminToken, clientToken}
//   <- {cmd: "memory"}  -> {type: "memory", rss, heapUsed, external, arrayBuffers, streams}  (after a full GC)
//   <- {cmd: "stop"}    -> {type: "stopped"} (schema dropped)
//
// Run with --expose-gc.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { propagatedFlag, STATE } from "./flags-fixture.js";

const REPO_ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const control = await import(path.join(REPO_ROOT, "packages/control/dist/index.js"));
const { databaseUrl } = JSON.parse(process.argv[2]);
const ADMIN_TOKEN = `bench-admin-${randomBytes(12).toString("hex")}`;

const schema = `fbench_${randomBytes(4).toString("hex")}`;
const admin = control.pgClient(databaseUrl, { max: 1 });
await admin.query(`CREATE SCHEMA ${schema}`);
const db = control.pgClient(databaseUrl, { schema });
const dir = mkdtempSync(path.join(os.tmpdir(), "baton-fbench-"));
const plane = new control.ControlPlane({
  file: control.parseServiceFile("service: flagged\nlisten: 8080\nrun: node server.js\n"),
  db,
  router: new control.RouterAdmin("http://127.0.0.1:9"),
  routerUrl: "http://127.0.0.1:9",
  dataDir: dir,
});
await plane.init();
const flags = new control.FlagService({ db, service: "flagged" });
await flags.init();
const api = await control.startApi(plane, {
  host: "127.0.0.1",
  port: 0,
  tokenSha256: control.hashToken(ADMIN_TOKEN),
  flags,
  log: (line) => process.stderr.write(`[plane] ${line}\n`),
});

// The benchmark's state (50 flags, a segment), and the flag whose rollout the changes move.
await flags.apply([...STATE.features, propagatedFlag(50)], STATE.segments, "bench");
const { token } = await flags.tokens.create("bench-sdk", "bench");

const memory = () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    streams: flags.stream.size,
  };
};

process.on("message", async (message) => {
  if (message?.cmd === "memory") process.send({ type: "memory", ...memory() });
  if (message?.cmd === "stop") {
    flags.close();
    await Promise.race([api.close().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
    await db.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.close();
    rmSync(dir, { recursive: true, force: true });
    process.send({ type: "stopped" }, () => process.exit(0));
  }
});
process.on("disconnect", () => process.exit(0));
process.send({ type: "ready", url: api.url, adminToken: ADMIN_TOKEN, clientToken: token });
