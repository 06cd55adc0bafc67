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

function listener(mode) {
  if (mode === "plain") return plainHandler();
  if (mode.startsWith("versioned")) {
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
  if (mode.startsWith("metrics")) {
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
  throw new Error(`unknown mode ${mode}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.once("message", ({ mode }) => {
    const server = createServer(listener(mode));
    server.keepAliveTimeout = 30_000;
    server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
  });
}
