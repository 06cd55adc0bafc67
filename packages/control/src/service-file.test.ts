import { ConfigError } from "@baton/router";
import { describe, expect, it } from "vitest";
import { parseServiceFile, serviceFileJsonSchema } from "./service-file.js";

const SEED = `service: payments
listen: 8080                      # the router's public port for this service
instances: 3
run: node server.js
health: { readiness: /health/ready, liveness: /health/live }
strategy: canary                  # rolling | blue-green | canary
rolling: { maxSurge: 1, maxUnavailable: 0, minReady: 5s }
blueGreen: { previewChecks: [/health/ready], keepOldFor: 24h }
canary:
  steps: [ { weight: 10, pause: 30s }, { weight: 50, pause: 30s }, { weight: 100 } ]
analysis: { minRequests: 1000, maxErrorRateIncrease: 0.02, maxP95IncreaseMs: 200, confidence: 0.99 }
stickiness: { header: x-user-id }
drain: { timeout: 30s, preStop: 2s }
regions: [ ]
`;

function refusal(text: string): ConfigError {
  try {
    parseServiceFile(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("accepted");
}

describe("baton.yaml", () => {
  it("parses the seed design's example into typed values", () => {
    const f = parseServiceFile(SEED);
    expect(f).toMatchObject({ service: "payments", listen: 8080, instances: 3, strategy: "canary" });
    expect(f.canary.steps).toEqual([
      { weight: 10, pause: 30_000 },
      { weight: 50, pause: 30_000 },
      { weight: 100 },
    ]);
    expect(f.blueGreen.keepOldFor).toBe(86_400_000);
    expect(f.drain).toEqual({ timeout: 30_000, preStop: 2000 });
  });

  it("names the key, line and reason of each mistake", () => {
    const err = refusal(
      SEED.replace("strategy: canary ", "strategy: canery ").replace("weight: 50,", "weight: 5,"),
    );
    const paths = err.issues.map((i) => `${i.path}@${i.line}`);
    expect(paths).toContain("strategy@6");
    expect(err.message).toContain("baton.yaml:6:");
    expect(refusal(SEED.replace("instances: 3", "instanzes: 3")).issues[0]).toMatchObject({
      path: "instanzes",
      line: 3,
    });
    expect(refusal(SEED.replace("{ weight: 100 }", "{ weight: 90 }")).message).toContain(
      "the last step must reach 100",
    );
  });

  it("exports a JSON Schema editors can use", () => {
    const schema = serviceFileJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(["service", "strategy", "canary", "analysis"]),
    );
    expect(schema.required).toEqual(expect.arrayContaining(["service", "listen"]));
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(["provider", "run", "regions"]));
  });

  it("describes every key, at every depth (one source for the docs, the schema and editor hints)", () => {
    const undocumented: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (!node || typeof node !== "object") return;
      const n = node as {
        properties?: Record<string, { description?: string }>;
        items?: unknown;
        anyOf?: unknown[];
      };
      for (const [key, child] of Object.entries(n.properties ?? {})) {
        const described = (c: unknown): boolean =>
          !!(c as { description?: string }).description ||
          ((c as { anyOf?: unknown[] }).anyOf ?? []).some(described);
        if (!described(child)) undocumented.push(`${path}${key}`);
        walk(child, `${path}${key}.`);
      }
      if (n.items) walk(n.items, `${path}[].`);
      for (const alt of n.anyOf ?? []) walk(alt, path);
    };
    walk(serviceFileJsonSchema(), "");
    expect(undocumented).toEqual([]);
  });

  it("refuses a trusted proxy that is not an address or a CIDR range, naming it", () => {
    expect(refusal(`${SEED}\ntrustedProxies: ["10.0.0.0/8", "10.0.0.0/33"]\n`).message).toMatch(
      /baton\.yaml:\d+:\d+: trustedProxies\[1\]: "10\.0\.0\.0\/33" has an invalid prefix length/,
    );
  });

  it("needs run with the local provider only", () => {
    const noRun = SEED.replace(/^run: .*$/m, "");
    expect(refusal(noRun).message).toMatch(/run: run is required with the local provider/);
    expect(() => parseServiceFile(`${noRun}\nprovider: static\n`)).not.toThrow();
  });

  it("sends blue-green's preview check to the service's own readiness path unless told otherwise", () => {
    const own = parseServiceFile("service: s\nlisten: 80\nrun: x\nhealth: { readiness: /healthz }\n");
    expect(own.blueGreen.previewChecks).toEqual(["/healthz"]);
    const given = parseServiceFile(
      "service: s\nlisten: 80\nrun: x\nblueGreen: { previewChecks: [/a, /b] }\n",
    );
    expect(given.blueGreen.previewChecks).toEqual(["/a", "/b"]);
  });
});
