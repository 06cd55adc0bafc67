#!/usr/bin/env node
// Open-loop, fixed-rate HTTP load generator (the part of wrk2 that wrk lacks).
//
//   node bench/fixed-rate.js --url http://127.0.0.1:18181/ --rate 5000 --seconds 10 [--connections 64] [--warmup 1]
//
// Requests are scheduled at exact intervals (1/rate) and each latency is measured from the request's
// *scheduled* send time, not from when it actually left. If the target stalls, the requests that
// should have been sent during the stall are charged the waiting time, so coordinated omission cannot
// hide the stall. Prints one JSON line: {sent, ok, errors, p50, p90, p99, p999, max} (latencies in ms).

import { parseArgs } from "node:util";
import * as hdr from "hdr-histogram-js";
import { Agent } from "undici";

// Node timers fire at best every ~1 ms; at each tick we send every request that has fallen due.
// We deliberately do not busy-spin: this process shares its core with the backend under test.
const TICK_MS = 1;
// How long to wait for stragglers after the last request was scheduled before counting them as errors.
const DRAIN_TIMEOUT_MS = 5_000;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      rate: { type: "string", default: "5000" },
      seconds: { type: "string", default: "10" },
      connections: { type: "string", default: "64" },
      warmup: { type: "string", default: "1" },
    },
  });
  if (!values.url) throw new Error("--url is required");
  const opts = {
    url: values.url,
    rate: Number(values.rate),
    seconds: Number(values.seconds),
    connections: Number(values.connections),
    warmup: Number(values.warmup),
  };
  for (const k of ["rate", "seconds", "connections"]) {
    if (!(opts[k] > 0)) throw new Error(`--${k} must be a positive number`);
  }
  if (!(opts.warmup >= 0)) throw new Error("--warmup must be >= 0");
  return opts;
}

function newHistogram() {
  // Values are recorded in microseconds: 1 us .. 60 s at 3 significant digits.
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/**
 * Sends one GET through undici's low-level dispatch API and calls `done(ok)` exactly once.
 * dispatch() with a plain handler avoids the per-request stream objects of request()/fetch(): the
 * generator then needs far less CPU and garbage, and its own pauses stay out of the measurements.
 */
function sendOne(dispatcher, target, done) {
  let status = 0;
  let finished = false;
  const finish = (ok) => {
    if (finished) return;
    finished = true;
    done(ok);
  };
  const handler = {
    onRequestStart() {},
    onResponseStart(_controller, statusCode) {
      status = statusCode;
    },
    onResponseData() {}, // the body is discarded
    onResponseEnd() {
      finish(status >= 200 && status < 300);
    },
    onResponseError() {
      finish(false);
    },
  };
  try {
    dispatcher.dispatch(
      { origin: target.origin, path: target.pathname + target.search, method: "GET" },
      handler,
    );
  } catch {
    finish(false);
  }
}

/**
 * Sends `rate` requests/s for `seconds` seconds. `onDone(latencyMs, ok)` is called once per request.
 * Resolves when every request has completed or DRAIN_TIMEOUT_MS after the schedule ended; returns
 * {sent, pending}.
 */
function runSchedule({ url, rate, seconds, dispatcher }, onDone) {
  const target = new URL(url);
  const intervalMs = 1000 / rate;
  const total = Math.round(rate * seconds);
  const start = performance.now();
  let sent = 0;
  let pending = 0;

  const fire = (scheduledAt) => {
    pending++;
    sendOne(dispatcher, target, (ok) => {
      pending--;
      onDone(performance.now() - scheduledAt, ok);
    });
  };

  return new Promise((resolve) => {
    const tick = () => {
      // Send everything whose scheduled time has come, each stamped with its own scheduled time.
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      while (sent < due) {
        fire(start + sent * intervalMs);
        sent++;
      }
      if (sent < total) {
        setTimeout(tick, TICK_MS);
        return;
      }
      const deadline = performance.now() + DRAIN_TIMEOUT_MS;
      const drain = () => {
        if (pending === 0 || performance.now() > deadline) resolve({ sent, pending });
        else setTimeout(drain, 10);
      };
      drain();
    };
    tick();
  });
}

async function main() {
  const opts = parseOptions();
  // One origin, so the Agent's per-origin pool holds exactly `connections` keep-alive connections.
  const dispatcher = new Agent({ connections: opts.connections, pipelining: 1, keepAliveTimeout: 60_000 });

  // Warm-up at the same rate, not recorded: opens the connections and lets both sides' JITs settle.
  if (opts.warmup > 0) await runSchedule({ ...opts, seconds: opts.warmup, dispatcher }, () => {});

  const histogram = newHistogram();
  let ok = 0;
  let failed = 0;
  const { sent, pending } = await runSchedule({ ...opts, dispatcher }, (latencyMs, success) => {
    histogram.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
    if (success) ok++;
    else failed++;
  });

  const ms = (us) => Math.round(us) / 1000;
  const result = {
    sent,
    ok,
    // Requests still unanswered after the drain timeout count as errors too.
    errors: failed + pending,
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
  };
  process.stdout.write(JSON.stringify(result) + "\n");
  // Do not wait for a graceful close of connections that may be stuck.
  dispatcher.destroy().catch(() => {});
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`fixed-rate: ${err.message}\n`);
  process.exit(1);
});
