#!/usr/bin/env node
// One library's evaluation speed, in a process of its own (bench/flags-bench.js starts it pinned
// to one core): its decisions for every context first (for the agreement check), then a warm-up,
// then rounds of evaluations over the precomputed contexts, each round timed. Prints one line of
// JSON: ops/s per round, the decisions, and the errors the library reported meanwhile.
//
//   node bench/flags-eval.js '{"lib":"baton-client","seconds":2,"rounds":5,"warmup":2}'

import { createRequire } from "node:module";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import {
  CONTEXTS,
  FLAG,
  FLAG_ALL,
  GROWTHBOOK_FEATURES,
  growthBookAttributes,
  openFeatureContexts,
  openFeatureFlags,
  STATE,
  unleashContexts,
} from "./flags-fixture.js";

const require = createRequire(import.meta.url);
const REPO_ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const opts = JSON.parse(process.argv[2] ?? "{}");
const { lib, seconds = 2, rounds = 5, warmup = 2 } = opts;
const NOWHERE = "http://127.0.0.1:9/api"; // the discard port: nothing listens there

const errors = [];
const warnings = [];
const noteError = (error) => errors.push(String(error?.message ?? error).slice(0, 200));

/** Builds the library's evaluator: `check(i)` answers the flag for context i (maybe a promise). */
async function setup() {
  const contexts = unleashContexts();
  switch (lib) {
    case "baton-client": {
      const { createFlagClient } = await import(path.join(REPO_ROOT, "packages/flags/dist/index.js"));
      // Bootstrapped, polling only, once an hour: its one request at start goes nowhere (one error),
      // then it answers from the bootstrap. Metrics counted as by default (sent every 60 s: never here).
      const client = createFlagClient({
        url: NOWHERE,
        token: "bench",
        appName: "checkout",
        environment: "production",
        bootstrap: STATE,
        streaming: false,
        refreshInterval: 3_600_000,
      });
      client.on("error", noteError);
      await client.ready();
      return {
        check: (i, flag = FLAG) => client.isEnabled(flag, contexts[i]),
        close: () => client.close(),
      };
    }
    case "baton-engine": {
      const { isEnabled, parseFlagState } = await import(
        path.join(REPO_ROOT, "packages/flags/dist/index.js")
      );
      const state = parseFlagState(STATE);
      return { check: (i, flag = FLAG) => isEnabled(state, flag, contexts[i]) };
    }
    case "baton-engine-baseline": {
      // The engine as it was before this benchmark's changes, built elsewhere (BENCH_BASELINE_DIST).
      const { isEnabled } = await import(path.join(opts.baselineDist, "evaluate.js"));
      return { check: (i, flag = FLAG) => isEnabled(STATE, flag, contexts[i]) };
    }
    case "baton-engine-spread":
    case "baton-engine-literal": {
      // Diagnostics: the engine behind the client's per-call merge of its static context, written as
      // the client writes it (two spreads) and as one object literal with one spread.
      const { isEnabled, parseFlagState } = await import(
        path.join(REPO_ROOT, "packages/flags/dist/index.js")
      );
      const state = parseFlagState(STATE);
      const staticContext = { appName: "checkout", environment: "production" };
      const check =
        lib === "baton-engine-spread"
          ? (i, flag = FLAG) => isEnabled(state, flag, { ...staticContext, ...contexts[i] })
          : (i, flag = FLAG) =>
              isEnabled(state, flag, {
                appName: staticContext.appName,
                environment: staticContext.environment,
                ...contexts[i],
              });
      return { check };
    }
    case "unleash-client": {
      const { Unleash, InMemStorageProvider } = require("unleash-client");
      // Offline: no polling (refreshInterval 0), the bootstrap as its state. Its metrics are on, as by
      // default; registering them at start goes nowhere (one error).
      const unleash = new Unleash({
        url: `${NOWHERE}/`,
        appName: "checkout",
        environment: "production",
        refreshInterval: 0,
        bootstrap: { data: STATE.features, segments: STATE.segments },
        storageProvider: new InMemStorageProvider(),
        skipInstanceCountWarning: true,
      });
      unleash.on("error", noteError);
      unleash.on("warn", (w) => warnings.push(String(w).slice(0, 200)));
      if (!unleash.isSynchronized()) await new Promise((resolve) => unleash.once("ready", resolve));
      return {
        check: (i, flag = FLAG) => unleash.isEnabled(flag, contexts[i]),
        close: () => unleash.destroy(),
      };
    }
    case "unleash-engine": {
      // unleash-client's evaluation alone (UnleashClient over an in-memory repository), without its
      // context merge and metrics: the counterpart of baton-engine.
      const { default: UnleashClient } = require("unleash-client/lib/client.js");
      const { defaultStrategies } = require("unleash-client/lib/strategy/index.js");
      const flags = new Map(STATE.features.map((f) => [f.name, f]));
      const segments = new Map(STATE.segments.map((s) => [s.id, s]));
      const client = new UnleashClient(
        { getToggle: (name) => flags.get(name), getSegment: (id) => segments.get(id) },
        defaultStrategies,
      );
      const off = () => false;
      return { check: (i, flag = FLAG) => client.isEnabled(flag, contexts[i], off) };
    }
    case "openfeature-inmemory": {
      const { OpenFeature, InMemoryProvider } = require("@openfeature/server-sdk");
      await OpenFeature.setProviderAndWait(new InMemoryProvider(openFeatureFlags()));
      const client = OpenFeature.getClient();
      const ofContexts = openFeatureContexts(contexts);
      return {
        async: true,
        check: (i, flag = FLAG) => client.getBooleanValue(flag, false, ofContexts[i]),
        close: () => OpenFeature.close(),
      };
    }
    case "openfeature-baton": {
      const { OpenFeature } = require("@openfeature/server-sdk");
      const { BatonFlagProvider } = await import(path.join(REPO_ROOT, "packages/flags/dist/index.js"));
      const provider = new BatonFlagProvider({
        url: NOWHERE,
        token: "bench",
        appName: "checkout",
        environment: "production",
        bootstrap: STATE,
        streaming: false,
        refreshInterval: 3_600_000,
      });
      provider.client.on("error", noteError);
      await OpenFeature.setProviderAndWait(provider);
      const client = OpenFeature.getClient();
      const ofContexts = openFeatureContexts(contexts);
      return {
        async: true,
        check: (i, flag = FLAG) => client.getBooleanValue(flag, false, ofContexts[i]),
        close: () => OpenFeature.close(),
      };
    }
    case "growthbook": {
      const { GrowthBookClient } = require("@growthbook/growthbook");
      const gb = new GrowthBookClient({});
      gb.initSync({ payload: { features: GROWTHBOOK_FEATURES } });
      const userContexts = growthBookAttributes(contexts).map((attributes) => ({ attributes }));
      return {
        check: (i, flag = FLAG) => gb.isOn(flag, userContexts[i]),
        close: () => gb.destroy(),
      };
    }
    default:
      throw new Error(`unknown lib ${lib}`);
  }
}

const impl = await setup();
const n = CONTEXTS;

async function decisions(flag) {
  let text = "";
  for (let i = 0; i < n; i++) text += (await impl.check(i, flag)) ? "1" : "0";
  return text;
}
const decided = await decisions(FLAG);
const decidedAll = await decisions(FLAG_ALL);

let sink = 0;
/** Evaluations for `ms` milliseconds, whole passes over the contexts; answers ops/s. */
function runSync(ms) {
  const check = impl.check;
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < n; i++) if (check(i)) sink++;
    ops += n;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (ops / elapsed) * 1000;
}
async function runAsync(ms) {
  const check = impl.check;
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < n; i++) if (await check(i)) sink++;
    ops += n;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (ops / elapsed) * 1000;
}
const run = impl.async ? runAsync : runSync;

// Between rounds the event loop runs: a library's timers and requests (and their errors) go on.
const pause = () => new Promise((r) => setTimeout(r, 100));
await pause();
await run(warmup * 1000);
const opsPerSec = [];
for (let r = 0; r < rounds; r++) {
  await pause();
  opsPerSec.push(await run(seconds * 1000));
}
await pause();
await impl.close?.();
process.stdout.write(
  `${JSON.stringify({ lib, opsPerSec, decisions: decided, decisionsAll: decidedAll, errors, warnings, sink })}\n`,
);
process.exit(0);
