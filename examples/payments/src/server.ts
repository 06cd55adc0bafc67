/**
 * The payments service: Fastify, PostgreSQL and Redis, with every part of Baton's runtime SDK.
 * One codebase serves both releases; `PAYMENTS_RELEASE` (1 or 2, from each release directory's
 * `release.env`) says which code runs: in a real project the two would be two builds (commits).
 *
 *   release 1  API v1; quotes.v1; reads users.user_email
 *   release 2  API v1 + v2; quotes.v1 + quotes.v2; reads users.email_address (the migration
 *              02_email_address renames it: under Baton, this release's instances get the new
 *              version schema in BATON_SEARCH_PATH); the new checkout behind the flag `new-checkout`
 *
 * Environment: PORT, DATABASE_URL, REDIS_URL (redis://127.0.0.1:6379), REDIS_PREFIX (default
 * "payments:"), REPLICA_URL (optional: eventual reads go to this streaming replica), and what
 * `baton up` sets: BATON_VERSION, BATON_PREVIOUS_VERSION, BATON_SEARCH_PATH, BATON_FLAGS_URL,
 * BATON_FLAGS_TOKEN, BATON_FLAGS_BACKUP, BATON_SERVICE. Outside Baton the search path is
 * PAYMENTS_SCHEMA (default "payments").
 */
import { randomBytes } from "node:crypto";
import { createFlagClient, type FlagClient, fastifyFlagOutcomes } from "@baton/flags";
import {
  createReleaseMetrics,
  createReplicaAwarePool,
  createVersionedCache,
  fastifyApiVersioning,
  fastifyHealth,
  gracefulShutdown,
  health,
  pgCheck,
  redisCheck,
} from "@baton/runtime";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import { Redis } from "ioredis";
import pg from "pg";
import { type Payment, paymentsApi } from "./payments-api.js";
import { startQuotes } from "./quotes.js";
import { createSessions } from "./sessions.js";

const env = process.env;
const release = Number(env.PAYMENTS_RELEASE ?? 2);
if (release !== 1 && release !== 2) throw new Error(`PAYMENTS_RELEASE must be 1 or 2 (got ${release})`);
const version = env.BATON_VERSION ?? `release-${release}`;
/** The users' email column, as the schema this release runs against names it. */
const EMAIL = release >= 2 ? "email_address" : "user_email";
const log = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ event, version, release, ...fields })}\n`);

// PostgreSQL: the version schema first in the search path (Baton sets BATON_SEARCH_PATH and
// PGOPTIONS for each release; node-postgres is given it explicitly here).
const searchPath = env.BATON_SEARCH_PATH ?? env.PAYMENTS_SCHEMA ?? "payments";
const poolOptions = { options: `-c search_path=${searchPath}`, max: 10, connectionTimeoutMillis: 2000 };
const primary = new pg.Pool({ connectionString: env.DATABASE_URL, ...poolOptions });
const replicas = env.REPLICA_URL
  ? [{ name: "replica", pool: new pg.Pool({ connectionString: env.REPLICA_URL, ...poolOptions }) }]
  : [];
const db = createReplicaAwarePool({ primary, replicas, maxLag: 1000 });

// Redis: sessions (shared by every version: a switch logs nobody out) and the profile cache.
const redisPrefix = env.REDIS_PREFIX ?? "payments:";
const redis = new Redis(env.REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: 2 });
redis.on("error", (e) => log("redis-error", { message: e.message }));
const sessions = createSessions(redis, redisPrefix);

/** A user's profile as this release caches it: the row, its email column named as its schema does. */
type ProfileRow = { id: string; name: string } & Record<string, string>;
const profiles = createVersionedCache<ProfileRow>({
  namespace: "user_profile", // keys: <prefix>user_profile:<BATON_VERSION>:<user id>
  version,
  ttlMs: 60_000,
  redis,
  redisPrefix,
  // A new release's cold cache is filled from the previous release's entries: v1 cached
  // {id, name, user_email}, v2 caches {id, name, email_address}.
  upgrade: (old) => {
    const o = old as Record<string, string>;
    if (release < 2 || typeof o.user_email !== "string") return undefined;
    return { id: o.id!, name: o.name!, email_address: o.user_email };
  },
});
const loadProfile = async (id: string): Promise<ProfileRow> => {
  const { rows } = await db.query<ProfileRow>(`SELECT id, name, ${EMAIL} FROM users WHERE id = $1`, [id], {
    consistency: "eventual",
  });
  if (!rows[0]) throw Object.assign(new Error(`no user ${id}`), { statusCode: 404 });
  return rows[0];
};
const profileOf = (id: string) => profiles.get(id, loadProfile);

// Business numbers for Baton's release analysis (analysis.metrics in baton.yaml).
const metrics = createReleaseMetrics();

// Flags: under `baton up`, BATON_FLAGS_URL and BATON_FLAGS_TOKEN come in the environment.
const flags: FlagClient | undefined =
  env.BATON_FLAGS_URL && env.BATON_FLAGS_TOKEN
    ? createFlagClient({
        url: env.BATON_FLAGS_URL,
        token: env.BATON_FLAGS_TOKEN,
        appName: "payments",
        ...(env.BATON_FLAGS_BACKUP ? { backupFile: env.BATON_FLAGS_BACKUP } : {}),
        reconnectDelay: { initialMs: 200, maxMs: 2_000 },
      })
    : undefined;
flags?.on("error", (e) => log("flags-error", { message: e.message }));

const checks = health({
  checks: [pgCheck(primary, { timeoutMs: 300 }), redisCheck(redis, { timeoutMs: 300 })],
  timeoutMs: 400, // Baton's router gives a probe 500 ms
});

const { api, toModel, fromModel } = paymentsApi(release);
const app = Fastify({ logger: false, rewriteUrl: api.rewriteUrl });
if (flags) fastifyFlagOutcomes(app, flags);
await app.register(fastifyHealth(checks)); // /livez, /readyz (PostgreSQL and Redis), /startupz
await app.register(fastifyApiVersioning(api));

const newId = (prefix: string) => `${prefix}_${randomBytes(9).toString("base64url")}`;
const fail = (reply: FastifyReply, status: number, error: string) => reply.code(status).send({ error });
function cookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return undefined;
}
/** The replica-aware session of this user: its writes are read back, even from a replica. */
function dbSession(req: FastifyRequest) {
  try {
    return db.session(cookie(req, "lsn") ?? "");
  } catch {
    return db.session(); // a malformed token: as if none
  }
}
function rememberPosition(reply: FastifyReply, session: ReturnType<typeof db.session>) {
  if (session.token) reply.header("set-cookie", `lsn=${session.token}; Path=/; HttpOnly; SameSite=Lax`);
}

async function createPayment(
  req: FastifyRequest,
  reply: FastifyReply,
  body: unknown,
  customerId: string | undefined,
  flow: string,
) {
  let input: ReturnType<typeof toModel>;
  try {
    input = toModel(body);
  } catch (e) {
    return fail(reply, 400, (e as Error).message);
  }
  const amount = input?.amount;
  const customer = customerId ?? input?.customer?.id;
  if (
    typeof amount?.value !== "number" ||
    !(amount.value > 0) ||
    typeof amount.currency !== "string" ||
    !customer
  )
    return fail(reply, 400, "amount {value > 0, currency} and a customer are required");
  const profile = await profileOf(customer).catch(() => undefined);
  if (!profile) return fail(reply, 404, `no customer ${customer}`);
  const session = dbSession(req);
  const id = newId("pay");
  await session.write(
    "INSERT INTO payments (id, customer_id, amount, currency, flow) VALUES ($1, $2, $3, $4, $5)",
    [id, customer, amount.value, amount.currency, flow],
  );
  rememberPosition(reply, session);
  const payment: Payment = {
    id,
    status: "succeeded",
    amount: { value: amount.value, currency: amount.currency },
    customer: { id: customer, email: profile[EMAIL] ?? null },
    flow,
  };
  return reply.code(201).send(fromModel(payment));
}

app.post("/api/payments", (req, reply) => createPayment(req, reply, req.body, undefined, "classic"));

app.get<{ Params: { id: string } }>("/api/payments/:id", async (req, reply) => {
  const { rows } = await dbSession(req).query<{
    id: string;
    customer_id: string;
    amount: string;
    currency: string;
    flow: string;
    email: string;
  }>(
    `SELECT p.id, p.customer_id, p.amount, p.currency, p.flow, u.${EMAIL} AS email
       FROM payments p JOIN users u ON u.id = p.customer_id WHERE p.id = $1`,
    [req.params.id],
  );
  const row = rows[0];
  if (!row) return fail(reply, 404, "no such payment");
  const payment: Payment = {
    id: row.id,
    status: "succeeded",
    amount: { value: Number(row.amount), currency: row.currency },
    customer: { id: row.customer_id, email: row.email },
    flow: row.flow,
  };
  return fromModel(payment);
});

// Sessions live in Redis, in a format every release reads: a release switch logs nobody out.
app.post("/api/login", async (req, reply) => {
  const email = (req.body as { email?: unknown } | undefined)?.email;
  if (typeof email !== "string") return fail(reply, 400, "email is required");
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM users WHERE ${EMAIL} = $1`, [email]);
  if (!rows[0]) return fail(reply, 401, "unknown email");
  const sid = await sessions.create(rows[0].id);
  reply.header("set-cookie", `sid=${sid}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${sessions.ttlSeconds}`);
  const profile = await profileOf(rows[0].id);
  return { id: profile.id, name: profile.name, email: profile[EMAIL] };
});

async function loggedIn(req: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
  const userId = await sessions.user(cookie(req, "sid"));
  if (!userId) fail(reply, 401, "not logged in");
  return userId;
}

app.get("/api/me", async (req, reply) => {
  const userId = await loggedIn(req, reply);
  if (!userId) return reply;
  const profile = await profileOf(userId);
  // The API's profile is the same in every version; only the database column was renamed.
  return { id: profile.id, name: profile.name, email: profile[EMAIL] };
});

// Checkout: the logged-in user pays. Release 2 carries a new checkout, dark behind `new-checkout`.
app.post("/api/checkout", async (req, reply) => {
  const started = performance.now();
  const userId = await loggedIn(req, reply);
  if (!userId) return reply;
  const oneClick = release >= 2 && flags?.isEnabled("new-checkout", { userId }) === true;
  await createPayment(req, reply, req.body, userId, oneClick ? "one-click" : "classic");
  if (reply.statusCode === 201) {
    metrics.count("checkout_completed");
    metrics.observe("checkout_latency_ms", performance.now() - started);
  }
  return reply;
});

app.post("/api/logout", async (req) => {
  await sessions.delete(cookie(req, "sid"));
  return { ok: true };
});

/** What this instance runs and its cache and replica numbers (for people and the test). */
app.get("/internal/info", async () => ({
  version,
  release,
  previousVersion: profiles.previousVersion ?? null,
  searchPath,
  cache: profiles.stats,
  replicas: db.status(),
}));

const quotes = startQuotes(app.server, release, version);

gracefulShutdown(app, {
  health: checks, // readiness 503 at once; Baton's router has already drained this instance
  preStopMs: Number(env.PRESTOP_MS ?? 1000),
  websockets: { servers: [quotes.wss], graceMs: 500 }, // then 1001 "Going Away", in batches
  hooks: [
    { name: "quotes", run: () => quotes.stop() },
    { name: "fastify", run: () => app.close() },
    { name: "metrics", run: () => metrics.close() },
    { name: "flags", run: () => flags?.close() },
    { name: "replicas", run: () => db.close() },
    { name: "postgres", run: () => Promise.all([primary.end(), ...replicas.map((r) => r.pool.end())]) },
    { name: "redis", run: () => redis.quit() },
  ],
  timeoutMs: 20_000,
});

await app.listen({ port: Number(env.PORT ?? 3000), host: env.HOST ?? "127.0.0.1" });
log("listening", {
  port: Number(env.PORT ?? 3000),
  searchPath,
  previousVersion: profiles.previousVersion ?? null,
});
