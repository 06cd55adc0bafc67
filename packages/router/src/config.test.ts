import { describe, expect, it } from "vitest";
import { parseRouterConfig, parseServiceConfig } from "./config.js";
import { ConfigError } from "./errors.js";

const GOOD = `listen: 127.0.0.1:8080
admin: { listen: 127.0.0.1:9901 }
services:
  - name: payments
    stickiness: { header: x-user-id, cookie: baton_uid }
    health: { path: /health/ready, interval: 1s, timeout: 500ms, rise: 2, fall: 3 }
    tracks:
      stable: { version: v1, weight: 9000, instances: ["127.0.0.1:3001", "127.0.0.1:3002"] }
      canary: { version: v2, weight: 1000, instances: ["127.0.0.1:3101"] }
`;

function refusal(text: string): ConfigError {
  try {
    parseRouterConfig(text, "router.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("config was accepted");
}

describe("router config", () => {
  it("parses the documented example into typed values", () => {
    const cfg = parseRouterConfig(GOOD);
    expect(cfg.listen).toEqual({ host: "127.0.0.1", port: 8080 });
    const svc = cfg.services[0]!;
    expect(svc.health).toEqual({ path: "/health/ready", interval: 1000, timeout: 500, rise: 2, fall: 3 });
    expect(svc.tracks.canary!.instances).toEqual([{ host: "127.0.0.1", port: 3101 }]);
    expect(svc.drain.timeout).toBe(30_000);
  });

  it("names the file, line and key of a bad value", () => {
    const err = refusal(GOOD.replace("interval: 1s", "interval: soon"));
    expect(err.code).toBe("BATON_CONFIG_INVALID");
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ path: "services[0].health.interval", line: 6 });
    expect(err.message).toContain("router.yaml:6:");
    expect(err.message).toContain("not a duration");
  });

  it("refuses a key given twice in one mapping, naming it and where, but not the same key in two mappings", () => {
    const text =
      "listen: 127.0.0.1:8080\nservices:\n  - name: a\n    instances: []\n  - name: b\n    instances: []\n    name: c\n";
    expect(() => parseRouterConfig(text, "dup.yaml")).toThrow(
      /dup\.yaml:7:5: .*map keys must be unique; "name" is given again/,
    );
  });

  it("refuses unknown keys (typos) by name", () => {
    const err = refusal(GOOD.replace("rise: 2", "rize: 2"));
    expect(err.issues[0]!.path).toBe("services[0].health.rize");
    expect(err.issues[0]!.message).toContain('unknown key "rize"');
  });

  it("refuses weights that do not add up to 100%", () => {
    const err = refusal(GOOD.replace("weight: 1000", "weight: 2000"));
    expect(err.issues[0]!.path).toBe("services[0].tracks");
    expect(err.issues[0]!.message).toContain("add up to 11000");
  });

  it("refuses an instance in two tracks, a weighted track without instances, and bad addresses", () => {
    expect(refusal(GOOD.replace('["127.0.0.1:3101"]', '["127.0.0.1:3001"]')).issues[0]!.message).toContain(
      "already an instance of track",
    );
    expect(refusal(GOOD.replace('["127.0.0.1:3101"]', "[]")).issues[0]!.message).toContain("no instances");
    expect(refusal(GOOD.replace('"127.0.0.1:3101"', '"127.0.0.1:99999"')).issues[0]!.path).toBe(
      "services[0].tracks.canary.instances[0]",
    );
  });

  it("refuses two default services and a host served twice", () => {
    const two = `${GOOD}  - name: other\n    tracks: { a: { version: v1, weight: 10000, instances: ["127.0.0.1:4000"] } }\n`;
    expect(refusal(two).message).toContain("at most one service may be the default");
  });

  it("reports YAML syntax errors with their position", () => {
    const err = refusal("listen: [oops\nservices: []\n");
    expect(err.issues[0]!.line).toBeGreaterThan(0);
  });

  it("validates one service for the admin API with the same rules", () => {
    expect(() =>
      parseServiceConfig({
        name: "x",
        tracks: { a: { version: "v1", weight: 5000, instances: ["127.0.0.1:1"] } },
      }),
    ).toThrow(/add up to 5000/);
  });
});
