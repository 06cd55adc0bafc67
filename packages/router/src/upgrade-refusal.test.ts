import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type RouterFixture, startRouter } from "./test-support/router-fixture.js";

/** An instance that refuses every upgrade as its path says: the application's own words, or a flood. */
let app: Server;
let fx: RouterFixture;

beforeAll(async () => {
  app = createServer((_req, res) => res.end("ok"));
  app.on("upgrade", (req, socket) => {
    socket.on("error", () => {}); // the router hangs up on a flood: expected
    const body =
      req.url === "/huge"
        ? "x".repeat(64 * 1024)
        : JSON.stringify({ error: "no protocol in common", supported: ["quotes.v2", "quotes.v1"] });
    const type = req.url === "/huge" ? "text/plain" : "application/json; charset=utf-8";
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-type: ${type}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  const address = `127.0.0.1:${(app.address() as AddressInfo).port}`;
  fx = await startRouter([
    { name: "quotes", tracks: { stable: { version: "v1", weight: 10_000, instances: [address] } } },
  ]);
});
afterAll(async () => {
  await fx?.close();
  app.closeAllConnections();
  await new Promise((r) => app.close(r));
});

/** The status, content type and body a client gets for its upgrade. */
async function refusal(path: string) {
  const ws = new WebSocket(`${fx.url.replace("http", "ws")}${path}`, ["quotes.v3"]);
  return new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    ws.on("error", reject);
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () =>
        resolve({ status: res.statusCode!, type: String(res.headers["content-type"]), body }),
      );
    });
  });
}

describe("an instance's refusal of a WebSocket upgrade", () => {
  it("reaches the client with the application's own body, which may say what it accepts", async () => {
    const r = await refusal("/quotes");
    expect(r).toEqual({
      status: 400,
      type: "application/json; charset=utf-8",
      body: JSON.stringify({ error: "no protocol in common", supported: ["quotes.v2", "quotes.v1"] }),
    });
  });

  it("is replaced by the router's own words when the body is larger than it relays", async () => {
    const r = await refusal("/huge");
    expect(r.status).toBe(400);
    expect(r.type).toBe("text/plain; charset=utf-8");
    expect(r.body).toMatch(/^upstream 127\.0\.0\.1:\d+ refused the WebSocket upgrade: HTTP 400\n$/);
  });
});
