// The service of the overhead benchmark (bench/runtime-bench.js, part 2): one process per mode,
// told its mode over IPC, answering `POST /api/payments` with the seed design's payments example.
// Each mode differs from its baseline by the layer measured only:
//
//   plain            read the JSON body, one handler in the canonical (v2) model, JSON answer
//   versioned-v2     the same handler behind httpApiVersioning, client on v2 (no transform)
//   versioned-v1     the same, client on v1 (the request brought up, the answer brought down)
//   metrics          plain + createReleaseMetrics: count("checkout_completed") and
//                    observe("payment_latency_ms") per request, mirrored to prom-client, reported
//                    every second to a sink the benchmark runs (BATON_METRICS_URL)
//   metrics-no-prom  the same without the prom-client mirror (registry: false)
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";

const V2_BODY = JSON.stringify({
  amount: { value: 1250, currency: "EUR" },
  customer: { id: "cus_1", email: "a@example.com" },
});
const V1_BODY = JSON.stringify({ amount: 1250, currency: "EUR", customer_id: "cus_1" });
const post = (body, headers = {}) => ({
  method: "POST",
  path: "/api/payments",
  headers: { "content-type": "application/json", ...headers },
  body,
});

const runtime = await import("../packages/runtime/dist/index.js").catch(() => ({}));
const hasVersioning =
  typeof runtime.httpApiVersioning === "function" && typeof runtime.apiVersioning === "function";
const hasMetrics = typeof runtime.createReleaseMetrics === "function";

export const MODES = [
  {
    id: "plain",
    what: "JSON body read and parsed, canonical handler, JSON answer",
    request: post(V2_BODY, { "api-version": "v2" }),
  },
  {
    id: "versioned-v2",
    what: "the same behind `httpApiVersioning` (header version, usage counters), client on the latest version",
    baseline: "plain",
    request: post(V2_BODY, { "api-version": "v2" }),
    available: hasVersioning,
  },
  {
    id: "versioned-v1",
    what: "the same, client on v1: request v1 → v2 and answer v2 → v1, Deprecation and Sunset headers",
    baseline: "plain",
    request: post(V1_BODY, { "api-version": "v1" }),
    available: hasVersioning,
  },
  {
    id: "metrics",
    what: '`plain` + `count("checkout_completed")` and `observe("payment_latency_ms", …)` per request, prom-client mirror, reported every second',
    baseline: "plain",
    request: post(V2_BODY, { "api-version": "v2" }),
    available: hasMetrics,
  },
  {
    id: "metrics-no-prom",
    what: "the same without the prom-client mirror (`registry: false`): the report to the control plane only",
    baseline: "plain",
    request: post(V2_BODY, { "api-version": "v2" }),
    available: hasMetrics,
  },
];

let paymentIds = 0;
/** The one handler, in the canonical model. */
const createPayment = (req) => ({ id: `pay_${++paymentIds}`, status: "succeeded", ...req });

/** What every JSON service does without any layer: read, parse, handle, stringify. */
function plainHandler(onPayment) {
  return (req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        res.writeHead(400).end();
        return;
      }
      const payment = createPayment(body);
      onPayment?.(payment);
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify(payment));
    });
  };
}

let versioned;
function listener(mode) {
  if (mode === "plain") return plainHandler();
  if (mode.startsWith("versioned")) {
    // One API for both versioned modes: they differ by the client's version only.
    versioned ??= versionedListener();
    return versioned;
  }
  return metricsListener(mode);
}

function versionedListener() {
  const { apiVersioning, httpApiVersioning } = runtime;
  const api = apiVersioning({
    name: "payments",
    versions: ["v1", "v2"],
    changes: [
      {
        version: "v2",
        description: "amount becomes {value, currency}; customer_id becomes customer {id, email}",
        routes: ["POST /payments", "GET /payments/:id"],
        request: (p) => ({
          amount: { value: p.amount, currency: p.currency },
          customer: { id: p.customer_id, email: null },
        }),
        response: ({ amount, customer, ...rest }) => ({
          ...rest,
          amount: amount.value,
          currency: amount.currency,
          customer_id: customer.id,
        }),
      },
    ],
    pathPrefix: "/api",
    retire: {
      v1: {
        deprecatedAt: "2026-01-01T00:00:00Z",
        sunsetAt: "2027-06-30T00:00:00Z",
        link: "https://docs.example/v2",
      },
    },
  });
  return httpApiVersioning(api, (req) => ({ status: 201, body: createPayment(req.body) }));
}

function metricsListener(mode) {
  const metrics = runtime.createReleaseMetrics({
    service: "payments",
    version: "v2",
    ...(mode === "metrics-no-prom" ? { registry: false } : {}),
  });
  let n = 0;
  return plainHandler(() => {
    metrics.count("checkout_completed");
    metrics.observe("payment_latency_ms", 150 + (n++ % 97));
  });
}

/**
 * The same handlers called in this one process through light-my-request (no socket, no HTTP
 * parser): the modes take turns in short batches, so that whatever else runs on the machine
 * weighs on each alike, and each batch's CPU time (process.cpuUsage, in µs) is divided by its
 * requests. Answers the median and quartiles per mode.
 */
async function injectBench({ batches, batchSize, warmup }) {
  const { default: inject } = await import("light-my-request");
  const modes = MODES.filter((m) => m.available !== false).map((m) => ({ ...m, handler: listener(m.id) }));
  const send = (m) =>
    inject(m.handler, {
      method: m.request.method,
      url: m.request.path,
      headers: m.request.headers,
      payload: m.request.body,
    });
  for (const m of modes) {
    const res = await send(m);
    if (res.statusCode !== 201) throw new Error(`${m.id}: ${res.statusCode} ${res.payload}`);
    for (let i = 0; i < warmup; i++) await send(m);
  }
  const samples = modes.map(() => []);
  for (let b = 0; b < batches; b++) {
    // Each batch starts with another mode, so that none always follows the same one.
    for (let k = 0; k < modes.length; k++) {
      const i = (b + k) % modes.length;
      const c0 = process.cpuUsage();
      for (let j = 0; j < batchSize; j++) await send(modes[i]);
      const c = process.cpuUsage(c0);
      samples[i].push((c.user + c.system) / batchSize);
    }
  }
  const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)];
  return modes.map((m, i) => ({
    id: m.id,
    p25: q(samples[i], 0.25),
    median: q(samples[i], 0.5),
    p75: q(samples[i], 0.75),
  }));
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "--inject") {
  const results = await injectBench(JSON.parse(process.argv[3] ?? "{}"));
  if (process.send) process.send({ inject: results });
  else console.log(JSON.stringify(results, null, 1));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.once("message", ({ mode }) => {
    const server = createServer(listener(mode));
    server.keepAliveTimeout = 30_000;
    server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
  });
}
