import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { DemoTraffic } from "../demo/demo-traffic.js";

const ECHO = fileURLToPath(new URL("../../../../examples/echo-service/dist/server.js", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${line}\n`);

interface Instance {
  version: string;
  address: string;
  child: ChildProcess;
}

async function startInstance(version: string): Promise<Instance> {
  const child = spawn(process.execPath, [ECHO], {
    env: { ...process.env, PORT: "0", BATON_VERSION: version },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`example instance exited with ${code}`)));
    lines.on("line", (l) => {
      const m = /"port":(\d+)/.exec(l);
      if (m) resolve(Number(m[1]));
    });
  });
  return { version, address: `127.0.0.1:${port}`, child };
}

async function stopInstance(i: Instance, signal: NodeJS.Signals): Promise<void> {
  if (i.child.exitCode !== null || i.child.signalCode !== null) return;
  const exited = once(i.child, "exit");
  i.child.kill(signal);
  await exited;
}

/**
 * `baton demo`: the data plane at work. Example instances behind the router, simulated users
 * (HTTP and WebSockets), then: an instance killed with SIGKILL, a canary moved 10 -> 50 -> 100%,
 * the old version drained. Prints what the users saw.
 */
export async function runDemo(): Promise<void> {
  const instances: Instance[] = [];
  let router: Router | undefined;
  let traffic: DemoTraffic | undefined;
  try {
    say("starting 2 instances of v1 and 2 of v2 (examples/echo-service)");
    const [a, b, c, d] = await Promise.all(["v1", "v1", "v2", "v2"].map(startInstance));
    instances.push(a!, b!, c!, d!);
    const service = (stable: Instance[], canaryWeight: number) => ({
      name: "demo",
      stickiness: { header: "x-user-id" },
      health: { path: "/health/ready", interval: "250ms", rise: 2, fall: 2 },
      drain: { timeout: "3s", websocketCloseBatch: 2, websocketCloseInterval: "200ms" },
      tracks: {
        stable: { version: "v1", weight: 10_000 - canaryWeight, instances: stable.map((i) => i.address) },
        canary: { version: "v2", weight: canaryWeight, instances: [c!.address, d!.address] },
      },
    });
    router = await createRouter(
      { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" }, services: [service([a!, b!], 0)] },
      { logger: silentLogger },
    );
    const url = `http://127.0.0.1:${router.address.port}`;
    say(`router on ${url}, admin API on http://127.0.0.1:${router.adminAddress!.port}/v1/services`);
    await sleep(800);
    say("simulated users: 400 requests/s (keep-alive, sticky user ids) and 8 WebSockets");
    traffic = new DemoTraffic(url, 400, 8);
    const progress = setInterval(() => {
      const r = traffic!.report;
      say(`  sent ${r.sent}, failed ${r.failed}, by version ${JSON.stringify(r.byVersion)}`);
    }, 2000);
    await sleep(2000);

    say("SIGKILL one of the two v1 instances, mid-traffic");
    await stopInstance(a!, "SIGKILL");
    await sleep(2000);
    for (const w of [1000, 5000, 10_000]) {
      say(`canary v2 -> ${w / 100}% of users`);
      await router.applyService(service([b!], w));
      await sleep(2000);
    }
    say("v1 leaves the table: it drains; its WebSockets get 3 s, then close with 1001 in batches");
    await router.applyService(service([], 10_000));
    await sleep(4500);
    clearInterval(progress);
    const r = await traffic.stop();
    traffic = undefined;
    const sorted = r.latenciesMs.sort((x, y) => x - y);
    const p = (q: number) =>
      (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(2);
    say("summary");
    process.stdout.write(
      [
        `  requests sent        ${r.sent}`,
        `  requests failed      ${r.failed}${r.failed ? ` ${JSON.stringify(r.failures)}` : ""}`,
        `  answered by version  ${JSON.stringify(r.byVersion)}`,
        `  latency p50 / p99    ${p(0.5)} ms / ${p(0.99)} ms (through the router)`,
        `  WebSockets           ${r.websockets.opened} opened; close codes ${JSON.stringify(r.websockets.closeCodes)}`,
        "",
      ].join("\n"),
    );
  } finally {
    await traffic?.stop();
    await router?.close();
    await Promise.all(instances.map((i) => stopInstance(i, "SIGTERM")));
  }
}
