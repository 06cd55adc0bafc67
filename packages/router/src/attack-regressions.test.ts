import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { validateRouterConfig } from "./config.js";
import type { Logger } from "./logger.js";
import { rejectUpgrade } from "./reject-upgrade.js";
import { Router } from "./router.js";
import { digest } from "./state-store.js";
import { type RouterFixture, startRouter, waitFor } from "./test-support/router-fixture.js";
import { type RouterProcess, startRouterProcess } from "./test-support/router-process.js";
import { tempDir } from "./test-support/temp-dir.js";

/**
 * Regressions for an attacker's review of the router: each test sends what the attack sent, over
 * real sockets, to a real router in front of a real upstream.
 */

let upstream: Server;
let upstreamAddress: string;
/** Request targets of the upgrades that reached the upstream. */
const upgrades: string[] = [];
const wss = new WebSocketServer({ noServer: true });

beforeAll(async () => {
  upstream = createServer((_req, res) => res.end("ok"));
  upstream.on("upgrade", (req, socket, head) => {
    upgrades.push(req.url!);
    if (req.url === "/refuse404")
      return void socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    if (req.url === "/ok200") return void socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    if (req.url === "/reset") return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("message", (data, binary) => ws.send(data, { binary }));
      ws.send(`hello ${req.url}`);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamAddress = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(async () => {
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
});

const service = (extra: Record<string, unknown> = {}) => ({
  name: "app",
  tracks: { stable: { version: "v1", weight: 10_000, instances: [upstreamAddress] } },
  ...extra,
});

/** Sends raw bytes on a fresh connection; resolves with everything received until close (or 3 s). */
function raw(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let text = "";
    s.on("data", (d) => (text += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => resolve(text));
    s.write(payload);
    setTimeout(() => s.destroy(), 3000).unref();
  });
}

const upgradeHead = (target: string, extra = "") =>
  `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

/** What an attacker sent, and the reason the router must give for refusing it. */
const MALFORMED_UPGRADES: [string, string, RegExp][] = [
  ["fragment", upgradeHead("/ws#x"), /fragment/],
  ["asterisk-form", upgradeHead("*"), /only for OPTIONS/],
  ["absolute-form", upgradeHead("http://a/b"), /absolute-form/],
  ["protocol with a space", upgradeHead("/ws", "Sec-WebSocket-Protocol: a b\r\n"), /"a b" is not a token/],
  ["duplicated protocol", upgradeHead("/ws", "Sec-WebSocket-Protocol: a, a\r\n"), /"a" is offered twice/],
  ["protocol with a slash", upgradeHead("/ws", "Sec-WebSocket-Protocol: x/y\r\n"), /"x\/y" is not a token/],
  ["empty protocol", upgradeHead("/ws", "Sec-WebSocket-Protocol: \r\n"), /empty name/],
  ["two Host headers", upgradeHead("/ws", "Host: y\r\n"), /more than one Host header/],
];

describe("one request never ends the router (finding 1)", () => {
  let proc: RouterProcess | undefined;
  afterAll(async () => {
    await proc?.stop();
  });

  it("answers each malformed upgrade 400 with its reason, opens nothing upstream, and keeps serving", async () => {
    const dir = await tempDir("attack");
    const file = join(dir, "router.yaml");
    await writeFile(
      file,
      `listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nservices:\n  - ${JSON.stringify(service())}\n`,
    );
    proc = await startRouterProcess(file);
    upgrades.length = 0;
    for (const [what, payload, reason] of MALFORMED_UPGRADES) {
      const text = await raw(proc.port, payload);
      expect(text, what).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(text, what).toMatch(reason);
      expect(proc.process.exitCode, `${what}: the router exited\n${proc.output()}`).toBeNull();
    }
    // A POST is refused before dialling too (`ws` would refuse it after the upstream accepted).
    expect(await raw(proc.port, upgradeHead("/ws").replace("GET", "POST"))).toMatch(/^HTTP\/1\.1 405 /);
    expect(upgrades).toEqual([]);

    expect(proc.process.exitCode).toBeNull();
    expect(proc.process.signalCode).toBeNull();
    const res = await request(`http://127.0.0.1:${proc.port}/`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe("ok");
    // And WebSockets still work, with the target passed on byte for byte (no URL normalisation).
    const ws = await rawWs(proc.port, "/ws/a/../b?q='x'");
    expect(upgrades).toEqual(["/ws/a/../b?q='x'"]);
    ws.socket.destroy();
  });

  it("refuses a request with two Host headers (RFC 9112 3.2)", async () => {
    const text = await raw(proc!.port, "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n");
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain("more than one Host header");
    expect(proc!.process.exitCode).toBeNull();
  });

  it("answers CONNECT with 405 instead of closing the connection without a word", async () => {
    const text = await raw(proc!.port, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    expect(text).toMatch(/^HTTP\/1\.1 405 /);
    expect(text).toContain("CONNECT is not supported");
  });
});

/** A raw WebSocket client: sends frames by hand and reports the close code the router sends. */
interface RawWs {
  socket: Socket;
  /** Resolves with the close code of the router's close frame, or 0 if the socket closed without one. */
  closed: Promise<number>;
  closeCode: number | undefined;
}

async function rawWs(port: number, target = "/ws"): Promise<RawWs> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  const ws = { socket } as RawWs;
  let buf = Buffer.alloc(0);
  let upgraded = false;
  let resolveClosed: (code: number) => void;
  ws.closed = new Promise((r) => (resolveClosed = r));
  const opened = new Promise<void>((resolve, reject) => {
    socket.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.subarray(0, end).toString("latin1");
        if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(`not upgraded: ${head}`));
        upgraded = true;
        buf = buf.subarray(end + 4);
        resolve();
      }
      // Server frames are unmasked: opcode, 7/16/64-bit length, payload.
      while (buf.length >= 2) {
        const opcode = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          at = 10;
        }
        if (buf.length < at + len) return;
        if (opcode === 8) {
          ws.closeCode = len >= 2 ? buf.readUInt16BE(at) : 1005;
          resolveClosed(ws.closeCode);
        }
        buf = buf.subarray(at + len);
      }
    });
    socket.on("close", () => {
      reject(new Error("closed before the upgrade"));
      resolveClosed(ws.closeCode ?? 0);
    });
  });
  socket.write(upgradeHead(target));
  await opened;
  return ws;
}

/** Starts a binary frame that announces `length` bytes of payload and sends `sent` of them. */
function sendPartialFrame(ws: RawWs, length: number, sent: number): void {
  const head = Buffer.alloc(14);
  head[0] = 0x82; // FIN, binary
  head[1] = 0x80 | 127; // masked, 64-bit length
  head.writeBigUInt64BE(BigInt(length), 2);
  // mask key 0: the payload goes as is
  ws.socket.write(Buffer.concat([head, Buffer.alloc(sent, 120)]));
}

describe("WebSocket memory is capped (finding 4)", () => {
  let fx: RouterFixture;
  beforeAll(async () => {
    fx = await startRouter([service()], {
      limits: { websocketMaxMessageBytes: 1_048_576, websocketMaxBufferedBytes: 3_145_728 },
    });
  });
  afterAll(async () => {
    await fx?.close();
  });
  const port = () => Number(new URL(fx.url).port);

  it("closes a message over websocketMaxMessageBytes with 1009 before it arrives", async () => {
    const ws = await rawWs(port());
    sendPartialFrame(ws, 2_000_000, 1000);
    expect(await ws.closed).toBe(1009);
    ws.socket.destroy();
  });

  it("sheds, with 1013, each slow sender that would take the total past websocketMaxBufferedBytes", async () => {
    const senders: RawWs[] = [];
    // 12 clients each send 900 kB of a 1 MB message and stop: 3 fit in 3 MiB, the rest must go.
    for (let i = 0; i < 12; i++) {
      const ws = await rawWs(port());
      senders.push(ws);
      const before = fx.router.websocketBufferedBytes;
      sendPartialFrame(ws, 1_000_000, 900_000);
      await waitFor(
        () => ws.closeCode !== undefined || fx.router.websocketBufferedBytes >= before + 900_000,
        5000,
        `sender ${i} to be buffered or shed`,
      );
      if (ws.closeCode !== undefined) {
        // A shed session's bytes are given back when its sockets go, a moment after its close frame.
        await waitFor(() => fx.router.websocketBufferedBytes <= 3 * 900_100, 3000, `sender ${i} released`);
      }
      expect(fx.router.websocketBufferedBytes).toBeLessThanOrEqual(3_145_728);
    }
    await new Promise((r) => setTimeout(r, 300));
    const codes = senders.map((s) => s.closeCode);
    expect(codes.slice(0, 3)).toEqual([undefined, undefined, undefined]);
    expect(codes.slice(3)).toEqual(Array(9).fill(1013));
    expect(fx.router.websocketBufferedBytes).toBeLessThanOrEqual(3 * 900_100);

    // The budget is given back when a holder leaves: a new sender fits again, and completes.
    senders[0]!.socket.destroy();
    await waitFor(() => fx.router.websocketBufferedBytes <= 2 * 900_100, 3000, "a holder to be released");
    const next = await rawWs(port());
    sendPartialFrame(next, 1_000_000, 900_000);
    await waitFor(() => fx.router.websocketBufferedBytes >= 2_700_000, 3000, "the new sender to be held");
    next.socket.write(Buffer.alloc(100_000, 120)); // the rest of its message: it goes upstream
    await waitFor(() => fx.router.websocketBufferedBytes <= 2 * 900_100, 3000, "the message to be relayed");
    expect(next.closeCode).toBeUndefined();
    for (const s of [...senders, next]) s.socket.destroy();
    await waitFor(() => fx.router.websocketBufferedBytes === 0, 3000, "every session to be released");
  });
});

describe("versions are header values (finding 6)", () => {
  let fx: RouterFixture;
  beforeAll(async () => {
    fx = await startRouter([service()]);
  });
  afterAll(async () => {
    await fx?.close();
  });

  it("refuses a version with CR/LF or non-Latin-1 characters, naming the key, and keeps serving", async () => {
    for (const version of ["v1\r\nx-injected: 1", "v1\u0100", "v 1", "v1\u00e9", ""]) {
      const res = await fx.admin("PUT", "/v1/services/app", {
        ...service(),
        tracks: { stable: { version, weight: 10_000, instances: [upstreamAddress] } },
      });
      expect(res.status, JSON.stringify(version)).toBe(400);
      expect(res.body.error.issues[0].path).toBe("tracks.stable.version");
    }
    for (const version of ["v1.2.3+build.4", "sha256:0a1b2c", "2024-06-01_rc~1", "release/42"]) {
      const res = await fx.admin("PUT", "/v1/services/app", {
        ...service(),
        tracks: { stable: { version, weight: 10_000, instances: [upstreamAddress] } },
      });
      expect(res.status, version).toBe(200);
      const hit = await request(fx.url);
      await hit.body.dump();
      expect(hit.headers["x-baton-version"]).toBe(version);
    }
  });

  it("does not resume a saved state whose version is not a header value", async () => {
    const dir = await tempDir("badstate");
    const stateFile = join(dir, "state.json");
    const text = "config file text";
    const bad = {
      ...service(),
      tracks: { stable: { version: "v2\r\nset-cookie: x=1", weight: 10_000, instances: [upstreamAddress] } },
    };
    await writeFile(stateFile, JSON.stringify({ configDigest: digest(text), savedAt: "", services: [bad] }));
    const logged: string[] = [];
    const log: Logger = {
      debug() {},
      info() {},
      warn: (_o, m) => logged.push(String(m)),
      error: (o, m) => logged.push(`${m} ${JSON.stringify(o)}`),
    };
    const config = validateRouterConfig({ listen: "127.0.0.1:0", stateFile, services: [service()] });
    const router = new Router(config, { logger: log, configText: text });
    await router.start();
    try {
      const res = await request(`http://127.0.0.1:${router.address.port}/`);
      await res.body.dump();
      expect(res.headers["x-baton-version"]).toBe("v1");
      expect(logged.join("\n")).toMatch(
        /saved state is invalid; using the config file.*tracks\.stable\.version/,
      );

      // A state file that is not JSON at all is refused the same way (the router still starts).
      await writeFile(stateFile, "{ not json");
      const again = new Router(config, { logger: log, configText: text });
      await again.start();
      await again.close();
      expect(logged.join("\n")).toContain("saved state cannot be read; using the config file");
    } finally {
      await router.close();
    }
  });

  it("never writes an unsafe version into a hand-written upgrade refusal", async () => {
    const server = createServer();
    const got = new Promise<string>((resolve) => {
      server.on("connection", (socket) => rejectUpgrade(socket, 503, "no instance", "v1\r\nset-cookie: x=1"));
      server.listen(0, "127.0.0.1", () => {
        void raw((server.address() as AddressInfo).port, "").then(resolve);
      });
    });
    const text = await got;
    server.close();
    expect(text).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(text.toLowerCase()).not.toContain("set-cookie");
    expect(text.toLowerCase()).not.toContain("x-baton-version");
  });
});

describe("smaller findings (7)", () => {
  let fx: RouterFixture;
  beforeAll(async () => {
    fx = await startRouter([
      service(),
      // Its own instance state: the failures this test provokes must not eject app's instance.
      { ...service(), name: "reset", hosts: ["reset.test"] },
    ]);
  });
  afterAll(async () => {
    await fx?.close();
  });

  it("answers bad percent-encoding in an admin path with 400, not 500", async () => {
    for (const path of ["/v1/services/%zz", "/v1/services/%E0%A4", "/v1/stats/%", "/v1/stats/a%ff"]) {
      const res = await fx.admin("GET", path);
      expect(res.status, path).toBe(400);
      expect(res.body.error.message, path).toContain("bad percent-encoding");
    }
  });

  it("refuses health interval 0, instance port 0 and built-in property names as tracks", async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ health: { path: "/h", interval: 0 } }, "health.interval", /more than 0/],
      [{ health: { path: "/h", interval: "0s", timeout: "0ms" } }, "health.interval", /more than 0/],
      [
        { tracks: { stable: { version: "v1", weight: 10_000, instances: ["127.0.0.1:0"] } } },
        "tracks.stable.instances[0]",
        /port must be 1-65535/,
      ],
      [
        // Parsed from JSON text, as an attacker's body is: an own key, not the object's prototype.
        JSON.parse(
          `{"tracks":{"__proto__":{"version":"v1","weight":10000,"instances":["${upstreamAddress}"]}}}`,
        ),
        "tracks.__proto__",
        /"__proto__" cannot be a track name/,
      ],
      [
        { tracks: { constructor: { version: "v1", weight: 10_000, instances: [upstreamAddress] } } },
        "tracks.constructor",
        /"constructor" cannot be a track name/,
      ],
    ];
    for (const [extra, path, message] of cases) {
      const res = await fx.admin("PUT", "/v1/services/app", { ...service(), ...extra });
      expect(res.status, path).toBe(400);
      const issue = res.body.error.issues.find((i: { path: string }) => i.path === path);
      expect(issue?.message, JSON.stringify(res.body.error.issues)).toMatch(message);
    }
    expect((await fx.admin("GET", "/v1/services/app")).body.tracks[0].name).toBe("stable");
  });

  it("reports what really happened when the upstream fails or refuses a WebSocket upgrade", async () => {
    const refused = await raw(Number(new URL(fx.url).port), upgradeHead("/refuse404"));
    expect(refused).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(refused).toMatch(/refused the WebSocket upgrade: HTTP 404/);
    const ok200 = await raw(Number(new URL(fx.url).port), upgradeHead("/ok200"));
    expect(ok200).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(ok200).toMatch(/refused the WebSocket upgrade: HTTP 200/);
    const reset = await raw(
      Number(new URL(fx.url).port),
      upgradeHead("/reset").replace("Host: x", "Host: reset.test"),
    );
    expect(reset).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(reset).toContain(`upstream WebSocket failed: ${upstreamAddress}: ECONNRESET`);
    expect(reset).not.toContain("no healthy instance");
  });
});
