import { Agent, request } from "undici";
import { silentLogger } from "../logger.js";
import { createRouter, type Router } from "../router.js";
import { admin } from "./admin-client.js";

export interface RouterFixture {
  router: Router;
  url: string;
  adminPort: number;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** An in-process router on loopback ports picked by the OS. */
export async function startRouter(
  services: unknown[],
  extra: Record<string, unknown> = {},
): Promise<RouterFixture> {
  const router = await createRouter(
    { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" }, services, ...extra } as never,
    { logger: silentLogger },
  );
  const adminPort = router.adminAddress!.port;
  return {
    router,
    url: `http://127.0.0.1:${router.address.port}`,
    adminPort,
    admin: (method, path, body) =>
      admin(adminPort, method, path, body, (extra.admin as { token?: string })?.token),
    close: () => router.close(),
  };
}

/** Polls `check` until it returns true, for at most `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
}

/** Sends `n` GETs (64 at a time, keep-alive) and returns the x-baton-version of each, in order. */
export async function versionsFor(
  url: string,
  n: number,
  headersFor: (i: number) => Record<string, string>,
): Promise<string[]> {
  const agent = new Agent({ connections: 64 });
  const out = new Array<string>(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const res = await request(url, { dispatcher: agent, headers: headersFor(i) });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`request ${i} got HTTP ${res.statusCode}`);
      out[i] = String(res.headers["x-baton-version"] ?? "none");
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  await agent.close();
  return out;
}
