import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "./logger.js";
import { createRouter, type Router } from "./router.js";
import { admin } from "./test-support/admin-client.js";
import { type HttpUpstream, startHttpUpstream } from "./test-support/http-upstream.js";
import { waitFor } from "./test-support/router-fixture.js";

/** Keeps every line the router logs, so a test can look for one. */
function recordingLogger(): Logger & {
  lines: { level: string; obj: Record<string, unknown>; msg?: string }[];
} {
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

let good: HttpUpstream;
let broken: HttpUpstream[];
let router: Router;
let log: ReturnType<typeof recordingLogger>;

beforeAll(async () => {
  good = await startHttpUpstream();
  broken = await Promise.all(
    [0, 1].map(() =>
      startHttpUpstream((_req, res) => {
        res.statusCode = 500;
        res.end("broken");
      }),
    ),
  );
  log = recordingLogger();
  router = await createRouter(
    {
      listen: "127.0.0.1:0",
      admin: { listen: "127.0.0.1:0" },
      services: [
        {
          name: "shop",
          stickiness: { header: "x-user-id" },
          passive: { consecutiveFailures: 3, baseEjection: "30s" },
          tracks: {
            stable: { version: "v1", weight: 5000, instances: [good.address] },
            canary: { version: "v2.0.1", weight: 5000, instances: broken.map((b) => b.address) },
          },
        },
      ],
    },
    { logger: log },
  );
});
afterAll(async () => {
  await router?.close();
  await Promise.all([good?.close(), ...(broken ?? []).map((b) => b.close())]);
});

describe("passive ejections as evidence", () => {
  it("counts an ejection against its track and version in /v1/stats and logs it at warn", async () => {
    const url = `http://127.0.0.1:${router.address.port}`;
    // A user in the canary's buckets; both of its instances answer 500.
    let canaryUser = "";
    for (let i = 0; canaryUser === ""; i++) {
      const res = await request(url, { headers: { "x-user-id": `user-${i}` } });
      await res.body.dump();
      if (res.headers["x-baton-version"] === "v2.0.1") canaryUser = `user-${i}`;
    }
    // Enough failures to eject one of the two (maxEjectedPercent 50 keeps the other in).
    for (let i = 0; i < 12; i++) {
      const res = await request(url, { headers: { "x-user-id": canaryUser } });
      await res.body.dump();
    }
    const adminPort = router.adminAddress!.port;
    let stats: any;
    await waitFor(
      async () => {
        stats = (await admin(adminPort, "GET", "/v1/stats/shop?window=60s")).body;
        return stats.tracks.some((t: { ejections: number }) => t.ejections > 0);
      },
      5000,
      "an ejection in the stats",
    );
    const byVersion = Object.fromEntries(stats.tracks.map((t: any) => [t.version, t]));
    expect(byVersion["v2.0.1"]).toMatchObject({ track: "canary", ejections: 1, totals: { ejections: 1 } });
    expect(byVersion.v1).toMatchObject({ track: "stable", ejections: 0, totals: { ejections: 0 } });

    const warned = log.lines.filter((l) => l.level === "warn" && /ejected/.test(l.msg ?? ""));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.obj).toMatchObject({ service: "shop", track: "canary", version: "v2.0.1" });
    expect(String(warned[0]!.obj.reason)).toMatch(/3 consecutive failures \(HTTP 500\)/);
    expect(broken.map((b) => b.address)).toContain(warned[0]!.obj.instance);

    const metrics = (await admin(adminPort, "GET", "/metrics")).body as string;
    expect(metrics).toMatch(/baton_passive_ejections_total\{[^}]*track="canary",version="v2\.0\.1"[^}]*\} 1/);
  });
});
