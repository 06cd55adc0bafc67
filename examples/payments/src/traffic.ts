/**
 * `node dist/traffic.js [http://127.0.0.1:8080]`: steady traffic for watching a release, as the
 * service's clients would send it: a logged-in user (checkouts, its profile) and v1 API clients
 * (payments posted and read back). Prints one line a second: requests, failures, and which
 * version served them; Ctrl-C prints the totals. A failure is any 5xx, connection error, or a
 * logged-in user suddenly logged out (401).
 */
const target = (process.argv[2] ?? process.env.TARGET ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
const totals = {
  sent: 0,
  failed: 0,
  byVersion: {} as Record<string, number>,
  failures: {} as Record<string, number>,
};
let second = { sent: 0, failed: 0, byVersion: {} as Record<string, number> };
let running = true;

async function call(method: string, path: string, body?: unknown, cookie?: string) {
  totals.sent++;
  second.sent++;
  try {
    const res = await fetch(`${target}${path}`, {
      method,
      headers: { ...(body ? { "content-type": "application/json" } : {}), ...(cookie ? { cookie } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    const version = res.headers.get("x-baton-version") ?? "none";
    totals.byVersion[version] = (totals.byVersion[version] ?? 0) + 1;
    second.byVersion[version] = (second.byVersion[version] ?? 0) + 1;
    if (res.status >= 500 || res.status === 401)
      failed(`${method} ${path.replace(/pay_\w+/, ":id")} ${res.status}`);
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  } catch (err) {
    failed(`${method} ${path.replace(/pay_\w+/, ":id")} ${(err as Error).message}`);
    return undefined;
  }
}

function failed(what: string) {
  totals.failed++;
  second.failed++;
  totals.failures[what] = (totals.failures[what] ?? 0) + 1;
}

const login = await call("POST", "/api/v1/login", { email: "user1@example.com" });
const sid = login?.headers
  .getSetCookie()
  .find((c) => c.startsWith("sid="))
  ?.split(";")[0];
if (!sid) throw new Error(`cannot log in at ${target}: ${login?.status} ${JSON.stringify(login?.body)}`);

const pause = () => new Promise((r) => setTimeout(r, 20));
const user = async () => {
  while (running) {
    await call("GET", "/api/v1/me", undefined, sid);
    await call("POST", "/api/v1/checkout", { amount: 9.5, currency: "EUR" }, sid);
    await pause();
  }
};
const apiClient = async (n: number) => {
  for (let i = 0; running; i++) {
    const paid = await call("POST", "/api/v1/payments", {
      amount: i + 1,
      currency: "EUR",
      customer_id: `u${((n * 31 + i) % 100) + 1}`,
    });
    if (paid?.status === 201) await call("GET", `/api/v1/payments/${paid.body.id}`);
    await pause();
  }
};
const workers = [user(), apiClient(0), apiClient(1)];

const ticker = setInterval(() => {
  process.stdout.write(`${JSON.stringify({ at: new Date().toISOString().slice(11, 19), ...second })}\n`);
  second = { sent: 0, failed: 0, byVersion: {} };
}, 1000);
process.once("SIGINT", async () => {
  running = false;
  clearInterval(ticker);
  await Promise.all(workers);
  process.stdout.write(`${JSON.stringify({ totals })}\n`);
  process.exit(0);
});
