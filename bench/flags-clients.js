#!/usr/bin/env node
// SDK clients of the flag benchmark's propagation part, many in one process, connected to the
// control plane of bench/flags-plane.js. Each change moves the rollout of one flag to a new
// percentage; a client notes, at its `changed` event, the percentage it now has and when
// (`performance.timeOrigin + performance.now()`: wall-clock ms with a fraction, comparable across
// processes on one machine; bench/flags-bench.js also measures the offset over IPC).
//
//   kind: "baton"          createFlagClient, streaming (server-sent events), metrics off
//         "unleash-stream" unleash-client with experimentalMode {type: "streaming"}
//         "unleash-poll"   unleash-client as by default: polling every refreshInterval (15 s)
//
// IPC: -> {type: "ready", clients, errors} once every client has its first state
//      <- {cmd: "ping"} -> {type: "pong", t}
//      <- {cmd: "expect", value, count?} -> {type: "complete", value, seen} when that many clients
//         (default: all) have seen `value`
//      <- {cmd: "collect"} -> {type: "collected", seen: {value: [times]}, errors, errorSamples}

import { createRequire } from "node:module";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const REPO_ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const {
  kind,
  count,
  url,
  token,
  flag,
  spreadMs = 0,
  refreshInterval = 15_000,
  tag = "",
} = JSON.parse(process.argv[2]);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** value (the rollout percentage) -> times at which clients first had it. */
const seen = new Map();
const lastSeen = [];
let errors = 0;
const errorSamples = [];
const onError = (error) => {
  errors++;
  if (errorSamples.length < 5) errorSamples.push(String(error?.message ?? error).slice(0, 300));
};
let expectation;

function note(i, value) {
  const t = now();
  if (value === undefined || lastSeen[i] === value) return;
  lastSeen[i] = value;
  let times = seen.get(value);
  if (!times) seen.set(value, (times = []));
  times.push(t);
  if (expectation && expectation.value === value && times.length >= expectation.count) {
    process.send({ type: "complete", value, seen: times.length });
    expectation = undefined;
  }
}

const rolloutOf = (definition) => definition?.strategies?.[0]?.parameters?.rollout;
const clients = [];
const readies = [];

if (kind === "baton") {
  const { createFlagClient } = await import(path.join(REPO_ROOT, "packages/flags/dist/index.js"));
  for (let i = 0; i < count; i++) {
    const client = createFlagClient({
      url: `${url}/api`,
      token,
      appName: `bench${tag}-${i}`,
      instanceId: `bench${tag}-${i}`,
      metricsInterval: 0,
      streaming: true,
    });
    client.on("error", onError);
    client.on("changed", (names) => {
      if (names.includes(flag)) note(i, rolloutOf(client.getFlag(flag)));
    });
    clients.push(client);
    readies.push(client.ready());
  }
} else {
  const { Unleash, InMemStorageProvider } = require("unleash-client");
  for (let i = 0; i < count; i++) {
    if (spreadMs > 0 && i > 0) await sleep(spreadMs / count);
    const unleash = new Unleash({
      url: `${url}/api/`,
      appName: `bench${tag}-${i}`,
      instanceId: `bench${tag}-${i}`,
      customHeaders: { Authorization: token },
      storageProvider: new InMemStorageProvider(),
      disableMetrics: true,
      skipInstanceCountWarning: true,
      refreshInterval,
      ...(kind === "unleash-stream" ? { experimentalMode: { type: "streaming" } } : {}),
    });
    unleash.on("error", onError);
    unleash.on("warn", () => {});
    unleash.on("changed", () => note(i, rolloutOf(unleash.getFeatureToggleDefinition(flag))));
    clients.push(unleash);
    readies.push(
      unleash.isSynchronized() ? Promise.resolve() : new Promise((r) => unleash.once("synchronized", r)),
    );
  }
}

await Promise.race([Promise.all(readies), sleep(60_000)]);
process.send({ type: "ready", clients: clients.length, errors, errorSamples });

process.on("message", async (message) => {
  switch (message?.cmd) {
    case "ping":
      process.send({ type: "pong", t: now() });
      break;
    case "expect": {
      const want = message.count ?? count;
      const have = seen.get(message.value)?.length ?? 0;
      if (have >= want) process.send({ type: "complete", value: message.value, seen: have });
      else expectation = { value: message.value, count: want };
      break;
    }
    case "collect":
      process.send({ type: "collected", seen: Object.fromEntries(seen), errors, errorSamples });
      break;
    case "stop":
      for (const client of clients) {
        if (kind === "baton") void client.close();
        else client.destroy();
      }
      setTimeout(() => process.exit(0), 200);
      break;
  }
});
process.on("disconnect", () => process.exit(0));
