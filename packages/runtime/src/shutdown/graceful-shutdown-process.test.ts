import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { Agent } from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { type Answer, httpGet, openClients } from "../test-support/shutdown-clients.js";

const SERVICE = fileURLToPath(new URL("../test-support/shutdown-service.mjs", import.meta.url));
const PRE_STOP_MS = 400;
const TIMEOUT_MS = 5000;

let child: ChildProcess | undefined;
afterAll(() => void child?.kill("SIGKILL"));

/** Starts the service; resolves with its URL once it listens, and its stderr lines as they come. */
async function startService(): Promise<{ url: string; stderr: string[]; exited: Promise<number | null> }> {
  child = spawn(process.execPath, [SERVICE], {
    env: { ...process.env, PORT: "0", PRE_STOP_MS: String(PRE_STOP_MS), TIMEOUT_MS: String(TIMEOUT_MS) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (l) => stderr.push(l));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
  return { url: `http://127.0.0.1:${JSON.parse(line).port}`, stderr, exited };
}

describe("gracefulShutdown in a process sent SIGTERM under load", () => {
  it("fails no request, finishes every one in flight with Connection: close, closes WebSockets with 1001, and exits 0 in time", async () => {
    const svc = await startService();
    const sockets = await openClients(`${svc.url.replace("http", "ws")}/ws`, 30);

    // A load balancer: it probes readiness every 50 ms and stops routing at the first 503.
    let routable = true;
    let flipped: () => void = () => {};
    const notRoutable = new Promise<void>((r) => (flipped = r));
    const probe = (async () => {
      for (let i = 0; i < 200 && routable; i++) {
        const a = await httpGet(`${svc.url}/readyz`, false).catch(() => undefined);
        if (a?.status === 503) {
          routable = false;
          flipped();
        } else await new Promise((r) => setTimeout(r, 50));
      }
    })();

    // Keep-alive clients sending requests of 200-700 ms until told to reconnect elsewhere.
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const answers: Answer[] = [];
    const failures: string[] = [];
    const lastOf: Answer[] = [];
    let warmedUp: () => void = () => {};
    const warm = new Promise<void>((r) => (warmedUp = r));
    const client = async () => {
      for (let i = 0; i < 100 && routable; i++) {
        try {
          const a = await httpGet(`${svc.url}/work?ms=${200 + Math.floor(Math.random() * 500)}`, agent);
          answers.push(a);
          if (a.status !== 200) failures.push(`HTTP ${a.status}`);
          if (answers.length === 40) warmedUp();
          if (a.connection === "close") return void lastOf.push(a);
        } catch (err) {
          failures.push((err as { code?: string }).code ?? String(err));
          return;
        }
      }
    };
    const clients = Array.from({ length: 16 }, client);
    await warm;

    // One request sure to be in flight when accepting stops (it arrives before or during preStop).
    const longAgent = new Agent({ keepAlive: true });
    const long = httpGet(`${svc.url}/work?ms=1000`, longAgent);
    const signalled = Date.now();
    child!.kill("SIGTERM");
    await notRoutable;
    child!.kill("SIGTERM"); // a second signal does not start the shutdown again
    const code = await svc.exited;
    const exitedAt = Date.now();
    await Promise.all(clients);
    await probe;
    await sockets.allClosed;
    const longAnswer = await long;
    agent.destroy();
    longAgent.destroy();

    expect(code).toBe(0);
    expect(exitedAt - signalled).toBeLessThan(TIMEOUT_MS);
    expect(failures).toEqual([]);
    // From the signal on, every answer told its keep-alive client to reconnect elsewhere.
    const afterSignal = answers.filter((a) => a.at > signalled + 20);
    expect(afterSignal.length).toBeGreaterThan(0);
    expect(afterSignal.every((a) => a.connection === "close")).toBe(true);
    expect(lastOf.length).toBeGreaterThan(0);
    // Requests in flight when the server stopped accepting finished.
    const afterStop = [...answers, longAnswer].filter((a) => a.at > signalled + PRE_STOP_MS);
    expect(longAnswer).toMatchObject({ status: 200, connection: "close" });
    expect(longAnswer.at - signalled).toBeGreaterThan(PRE_STOP_MS);
    expect(sockets.closes.map((c) => c.code)).toEqual(Array(30).fill(1001));
    expect(svc.stderr.some((l) => l.includes("SIGTERM again: already shutting down"))).toBe(true);
    const done = svc.stderr.map((l) => JSON.parse(l)).find((l) => String(l.msg).startsWith("shutdown done"));
    expect(done).toMatchObject({ exitCode: 0 });
    console.info(
      `shutdown: ${answers.length} answers (${answers.filter((a) => a.at > signalled).length} after SIGTERM, ${afterStop.length} after accepting stopped), 0 failed, exit 0 after ${exitedAt - signalled} ms`,
    );
  }, 20_000);
});
