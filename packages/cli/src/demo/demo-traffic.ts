import { Agent, request } from "undici";
import { WebSocket } from "ws";

/** What the simulated users saw. */
export interface TrafficReport {
  sent: number;
  failed: number;
  failures: Record<string, number>;
  byVersion: Record<string, number>;
  /** Failed requests by the version that answered them. */
  failedByVersion: Record<string, number>;
  latenciesMs: number[];
  websockets: { opened: number; closeCodes: Record<string, number> };
}

/**
 * Simulated users: keep-alive HTTP at a steady rate (each user id sticky) and a few long-lived
 * WebSockets. Everything they see is counted; nothing is retried by the client.
 */
export class DemoTraffic {
  readonly report: TrafficReport = {
    sent: 0,
    failed: 0,
    failures: {},
    byVersion: {},
    failedByVersion: {},
    latenciesMs: [],
    websockets: { opened: 0, closeCodes: {} },
  };
  private running = true;
  private readonly agent = new Agent({ connections: 32, keepAliveTimeout: 4_000 });
  private readonly workers: Promise<void>[] = [];
  private readonly sockets: WebSocket[] = [];

  constructor(
    private readonly url: string,
    rate: number,
    websockets: number,
  ) {
    const concurrency = 16;
    for (let w = 0; w < concurrency; w++) this.workers.push(this.worker(w, (1000 * concurrency) / rate));
    for (let i = 0; i < websockets; i++) this.openSocket(i);
  }

  private async worker(w: number, intervalMs: number): Promise<void> {
    let next = Date.now();
    let n = 0;
    while (this.running) {
      const user = `user-${w}-${n++ % 500}`;
      const started = performance.now();
      this.report.sent++;
      try {
        const res = await request(this.url, { dispatcher: this.agent, headers: { "x-user-id": user } });
        await res.body.dump();
        this.report.latenciesMs.push(performance.now() - started);
        const v = String(res.headers["x-baton-version"] ?? "?");
        this.report.byVersion[v] = (this.report.byVersion[v] ?? 0) + 1;
        if (res.statusCode >= 500) {
          this.fail(`HTTP ${res.statusCode}`);
          this.report.failedByVersion[v] = (this.report.failedByVersion[v] ?? 0) + 1;
        }
      } catch (err) {
        this.fail((err as { code?: string }).code ?? (err as Error).message);
      }
      next += intervalMs;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  private fail(what: string): void {
    this.report.failed++;
    this.report.failures[what] = (this.report.failures[what] ?? 0) + 1;
  }

  private openSocket(i: number): void {
    const ws = new WebSocket(`${this.url.replace(/^http/, "ws")}/ws`, {
      headers: { "x-user-id": `ws-user-${i}` },
    });
    ws.on("open", () => this.report.websockets.opened++);
    ws.on("close", (code) => {
      this.report.websockets.closeCodes[code] = (this.report.websockets.closeCodes[code] ?? 0) + 1;
    });
    ws.on("error", () => {});
    this.sockets.push(ws);
  }

  async stop(): Promise<TrafficReport> {
    this.running = false;
    await Promise.all(this.workers);
    for (const ws of this.sockets) if (ws.readyState === WebSocket.OPEN) ws.close(1000, "demo over");
    await this.agent.close();
    return this.report;
  }
}
