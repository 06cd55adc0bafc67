import { connect, type Socket } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorReply } from "../api/error-reply.js";
import { DashboardEvents } from "./dashboard-events.js";

/** The API's own error answers (a refusal is a 4xx with its code, as the control plane's API sends it). */
function withErrors(app: FastifyInstance): FastifyInstance {
  app.setErrorHandler((err, req, reply) => {
    const r = errorReply(err, { requestId: String(req.id), maxBodyBytes: 1024 });
    return reply.code(r.status).send(r.body);
  });
  return app;
}

let app: FastifyInstance;
let events: DashboardEvents;
let port: number;

beforeAll(async () => {
  // Big ticks, often: a client that does not read falls behind by megabytes within a second.
  events = new DashboardEvents({ snapshot: async () => ({ pad: "x".repeat(200_000) }), intervalMs: 20 });
  app = Fastify();
  app.get("/events", (req, reply) => events.attach(reply, { owner: String(req.headers["x-owner"]) }));
  await app.listen({ host: "127.0.0.1", port: 0 });
  port = (app.server.address() as { port: number }).port;
});
afterAll(async () => {
  events?.close();
  await app?.close();
});

/** A client that sends its request and never reads a byte of the answer. */
function stalledClient(owner: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(`GET /events HTTP/1.1\r\nhost: 127.0.0.1\r\nx-owner: ${owner}\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on("error", reject);
  });
}

const until = async (what: string, ok: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("live events and their clients", () => {
  it("drops a client that does not read once it is a few ticks behind, and keeps serving the others", async () => {
    const reader = await request(`http://127.0.0.1:${port}/events`, { headers: { "x-owner": "reader" } });
    let read = 0;
    reader.body.on("data", (chunk: Buffer) => {
      read += chunk.length;
    });
    const stalled = await stalledClient("stalled");
    await until("both streams", () => events.open === 2);
    const rss = process.memoryUsage().rss;
    // Megabytes of ticks go out each second; the stalled one is dropped instead of buffered.
    await until("the stalled client to be dropped", () => events.open === 1);
    const before = read;
    await until("the reader to go on", () => read > before + 1_000_000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(200 * 1024 * 1024);
    stalled.destroy();
    reader.body.destroy();
    await until("every stream to leave", () => events.open === 0);
  });

  it("lets one owner (a session, or the bearer token) hold only a few streams", async () => {
    const quiet = new DashboardEvents({ snapshot: async () => ({}), maxStreams: 16, maxPerOwner: 2 });
    const local = withErrors(Fastify());
    local.get("/events", (req, reply) => quiet.attach(reply, { owner: String(req.headers["x-owner"]) }));
    await local.listen({ host: "127.0.0.1", port: 0 });
    const url = `http://127.0.0.1:${(local.server.address() as { port: number }).port}/events`;
    try {
      const open = (owner: string) => request(url, { headers: { "x-owner": owner } });
      const mine = [await open("a"), await open("a")];
      const third = await open("a");
      expect(third.statusCode).toBe(429);
      expect(await third.body.json()).toMatchObject({
        error: {
          code: "BATON_TOO_MANY_STREAMS",
          message: expect.stringMatching(/this session already has 2/),
        },
      });
      const other = await open("b"); // another session is not locked out
      expect(other.statusCode).toBe(200);
      for (const r of [...mine, other]) r.body.destroy();
    } finally {
      quiet.close();
      await local.close();
    }
  });
});
