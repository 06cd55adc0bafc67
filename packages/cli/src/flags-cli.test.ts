import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, startFlagApi } from "../../control/src/test-support/flag-fixture.js";

/** `baton flags ...` (the built command) against a real control plane API and PostgreSQL. */
const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
let fx: Awaited<ReturnType<typeof startFlagApi>>;
let dir: string;

function baton(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args, "--api", fx.api.url],
      { timeout: 20_000, env: { ...process.env, BATON_API_TOKEN: ADMIN_TOKEN, BATON_ACTOR: "tester" } },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const stateOf = async () => JSON.stringify((await fx.call("GET", "/v1/flags/export")).body);

beforeAll(async () => {
  fx = await startFlagApi("flagcli", undefined, { rollouts: { lookMs: 200 } });
  dir = await mkdtemp(join(tmpdir(), "baton-flag-files-"));
});
afterAll(async () => {
  await fx?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("baton flags", () => {
  it("applies a YAML file, then lists, changes and explains its flags", async () => {
    const good = await file(
      "flags.yaml",
      `- name: new-checkout
  enabled: true
  strategies:
    - name: flexibleRollout
      parameters: { rollout: "5", stickiness: userId, groupId: new-checkout }
- name: dark-mode
  enabled: false
  strategies: [ { name: default } ]
`,
    );
    const applied = await baton("flags", "apply", good);
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain("created: new-checkout, dark-mode");
    expect((await baton("flags", "apply", good)).stdout).toContain("unchanged: 2");

    const list = await baton("flags", "list");
    expect(list.stdout).toMatch(/new-checkout\s+on\s+v1\s+flexibleRollout 5% \(userId\)/);
    expect((await baton("flags", "enable", "dark-mode")).stdout).toContain("dark-mode: on (version 2)");
    expect((await baton("flags", "disable", "dark-mode")).stdout).toContain("dark-mode: off (version 3)");
    expect((await baton("flags", "rollout", "new-checkout", "--percent", "25")).stdout).toContain(
      "flexibleRollout 25%",
    );
    // A refusal and reads, which change nothing: at once.
    const [none, history, got, missing] = await Promise.all([
      baton("flags", "rollout", "dark-mode", "--percent", "25"),
      baton("flags", "history", "new-checkout"),
      baton("flags", "get", "new-checkout", "--json"),
      baton("flags", "get", "nope"),
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("[BATON_FLAG_NO_ROLLOUT]");
    expect(history.stdout).toContain("flag.changed");
    expect(history.stdout).toContain("tester");
    expect(history.stdout).toContain("flexibleRollout 5% (userId) -> flexibleRollout 25% (userId)");
    expect(JSON.parse(got.stdout).version).toBe(2);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("[BATON_UNKNOWN_FLAG] no flag nope");

    // What export prints, apply takes back unchanged.
    const exported = await file("export.json", (await baton("flags", "export")).stdout);
    expect((await baton("flags", "apply", exported)).stdout).toContain("unchanged: 2");
  });

  it("refuses a bad file whole, naming the file, the flag and the field, and changes nothing", async () => {
    const before = await stateOf();
    const bad = await file(
      "bad.yaml",
      `- name: fine-one
  enabled: true
  strategies: [ { name: default } ]
- name: broken
  enabled: true
  strategies:
    - name: flexibleRollout
      parameters: { rollout: "250" }
`,
    );
    // Checked by the control plane (segments are its own): still named by file, flag and field.
    const unknownSegment = await file(
      "segment.json",
      JSON.stringify([
        { name: "fine-two", enabled: true, strategies: [{ name: "default" }] },
        { name: "segmented", enabled: true, strategies: [{ name: "default", segments: [42] }] },
      ]),
    );
    const syntaxFile = await file("syntax.yaml", "- name: [unclosed\n");
    // Three refusals, which change nothing: at once.
    const [r, s, syntax] = await Promise.all([
      baton("flags", "apply", bad),
      baton("flags", "apply", unknownSegment),
      baton("flags", "apply", syntaxFile),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `[BATON_BAD_REQUEST] ${bad}: flags[1] (flag broken): strategies[0].parameters.rollout`,
    );
    expect(s.code).toBe(2);
    expect(s.stderr).toContain(
      `${unknownSegment}: flags[1].strategies[0].segments[0] (flag segmented): no segment with id 42`,
    );
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toContain("syntax.yaml");
    expect(await stateOf()).toBe(before);
  });

  it("takes Unleash's feature export format", async () => {
    const exported = await file(
      "unleash-export.json",
      JSON.stringify({
        features: [
          { name: "from-unleash", type: "release", project: "default", stale: false, impressionData: false },
          { name: "child-flag", type: "release", project: "default" },
        ],
        featureStrategies: [
          {
            name: "flexibleRollout",
            id: "6b5157cb",
            featureName: "from-unleash",
            parameters: { groupId: "from-unleash", rollout: "30", stickiness: "default" },
            constraints: [
              {
                contextName: "tenant",
                operator: "IN",
                values: ["acme"],
                inverted: false,
                caseInsensitive: false,
              },
            ],
            sortOrder: 0,
            segments: [],
          },
          {
            name: "default",
            id: "x",
            featureName: "child-flag",
            parameters: {},
            constraints: [],
            disabled: true,
          },
        ],
        featureEnvironments: [
          { enabled: true, featureName: "from-unleash", environment: "production", variants: [] },
          { enabled: false, featureName: "child-flag", environment: "production" },
        ],
        dependencies: [{ feature: "child-flag", dependencies: [{ feature: "from-unleash", enabled: true }] }],
        contextFields: [],
        featureTags: [],
        segments: [],
        tagTypes: [],
      }),
    );
    const r = await baton("flags", "apply", exported);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("(unleash-export)");
    const flag = (await fx.call("GET", "/v1/flags/from-unleash")).body.flag;
    expect(flag).toMatchObject({
      enabled: true,
      project: "default",
      strategies: [{ name: "flexibleRollout" }],
    });
    expect(flag.strategies[0].constraints[0].values).toEqual(["acme"]);
    const child = (await fx.call("GET", "/v1/flags/child-flag")).body.flag;
    expect(child).toMatchObject({
      enabled: false,
      strategies: [],
      dependencies: [{ feature: "from-unleash" }],
    });
  });

  it("makes a client token, printed once, that reads the client API", async () => {
    const made = await baton("flags", "token", "create", "--name", "web");
    expect(made.code).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^baton-client\.[\w-]{43}$/);
    expect((await fx.call("GET", "/api/client/features", undefined, {}, token)).status).toBe(200);
    const list = await baton("flags", "token", "list");
    expect(list.stdout).toContain("web");
    expect(list.stdout).not.toContain(token);
  });
});

describe("baton flags: reasons, scheduled changes and stale flags", () => {
  it("schedules changes (--at), lists and cancels them, and keeps --reason in the history", async () => {
    await fx.call("PUT", "/v1/flags/later", {
      enabled: false,
      strategies: [
        { name: "flexibleRollout", parameters: { rollout: "5", stickiness: "userId", groupId: "later" } },
      ],
    });
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const rollout = await baton(
      "flags",
      "rollout",
      "later",
      "--percent",
      "25",
      "--at",
      at,
      "--reason",
      "launch day",
    );
    expect(rollout.stderr).toBe("");
    const id = /^scheduled #(\d+): later rollout 25% at (\S+)$/m.exec(rollout.stdout);
    expect(id?.[2]).toBe(at);
    await fx.call("POST", "/v1/flags/later/enable", { at, actor: "ana" });
    const list = await baton("flags", "schedule");
    expect(list.stdout).toContain(`#${id![1]}  ${at}  later rollout 25%  by tester  (launch day)`);
    expect(list.stdout).toContain("later enable");

    const cancelled = await baton("flags", "schedule", "cancel", id![1]!);
    expect(cancelled.stdout).toContain(`cancelled #${id![1]}: later rollout 25% at ${at}`);
    const [noZone, steps] = await Promise.all([
      baton("flags", "disable", "later", "--at", "2027-01-01T09:00"),
      baton("flags", "rollout", "later", "--steps", "5,25", "--at", at),
    ]);
    expect(noZone.code).toBe(2);
    expect(noZone.stderr).toContain('--at 2027-01-01T09:00: "2027-01-01T09:00" has no zone');
    expect(steps.code).toBe(2);
    expect(steps.stderr).toContain("--at goes with --percent only");

    expect((await baton("flags", "enable", "later", "--reason", "INC-7 fixed")).code).toBe(0);
    expect((await baton("flags", "history", "later")).stdout).toMatch(/turned on {2}\(INC-7 fixed\)$/m);
  });

  it("lists stale flags with what to do about them", async () => {
    await fx.call("PUT", "/v1/flags/forgotten", { enabled: true, strategies: [{ name: "default" }] });
    await fx.env.db.query(
      "UPDATE baton_flags SET updated_at = now() - interval '41 days' WHERE name = 'forgotten'",
    );
    const [stale, older, bad] = await Promise.all([
      baton("flags", "stale"),
      baton("flags", "stale", "--older-than", "42d"),
      baton("flags", "stale", "--older-than", "soon"),
    ]);
    expect(stale.stdout).toMatch(
      /^forgotten\s+on for everyone for 41 days: remove the flag and the code path that is never taken$/m,
    );
    expect(older.code, older.stderr).toBe(0);
    expect(older.stdout).not.toContain("forgotten");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--older-than soon: must be a duration such as 30d");
  });

  it("starts, promotes and aborts a guarded rollout, and refuses bad steps naming them", async () => {
    await fx.call("PUT", "/v1/flags/guarded", {
      enabled: true,
      strategies: [
        { name: "flexibleRollout", parameters: { rollout: "0", stickiness: "userId", groupId: "guarded" } },
      ],
    });
    const started = await baton(
      "flags",
      "rollout",
      "guarded",
      "--steps",
      "10,50",
      "--pause",
      "1h",
      "--no-wait",
    );
    expect(started.stderr).toBe("");
    expect(started.stdout).toMatch(
      /guarded: guarded rollout #\d+: 10% → 50%, each step held at least 1h, from 0%/,
    );
    expect(started.stdout).toContain("step 1 of 2: 10%");
    const again = await baton("flags", "rollout", "guarded", "--steps", "20");
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/BATON_FLAG_ROLLOUT_RUNNING.*already running or paused.*--abort/);

    const got = await baton("flags", "get", "guarded");
    expect(got.stdout).toMatch(/guarded rollout #\d+ running at 10% \(steps 10, 50\): step 1 of 2: 10%/);
    const promoted = await baton("flags", "rollout", "guarded", "--promote", "--no-wait");
    expect(promoted.stdout).toMatch(
      /guarded rollout #\d+ running at 50%: step 2 of 2: 50% \(step 1 passed: promoted by tester\)/,
    );
    const aborted = await baton("flags", "rollout", "guarded", "--abort");
    expect(aborted.code).toBe(0);
    expect(aborted.stdout).toMatch(/aborted at 10%: aborted by tester at 50%; back to 10%/);
    const flag = (await fx.call("GET", "/v1/flags/guarded")).body.flag;
    expect(flag.strategies[0].parameters.rollout).toBe("10");

    // Refusals and a read, which change nothing: at once.
    const [bad, down, none, shown] = await Promise.all([
      baton("flags", "rollout", "guarded", "--steps", "20,abc"),
      baton("flags", "rollout", "guarded", "--steps", "30,20"),
      baton("flags", "rollout", "guarded", "--abort"),
      baton("flags", "rollout", "guarded"),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--steps "20,abc": "abc" is not a number/);
    expect(down.stderr).toMatch(/steps\[1\]: 20 is not above the step before it/);
    expect(none.stderr).toMatch(/BATON_NO_FLAG_ROLLOUT/);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^#\d+ aborted at 10% {2}steps 10% → 50% {2}by tester /);
    expect(shown.stdout).toContain("aborted by tester at 50%; back to 10%");

    const deleted = await baton("flags", "delete", "guarded", "--reason", "shipped");
    expect(deleted.stdout).toBe("guarded: deleted\n");
    expect((await fx.call("GET", "/v1/flags/guarded")).status).toBe(404);
    const history = await baton("flags", "history", "guarded");
    expect(history.stdout).toMatch(/flag\.deleted .*\(shipped\)/);
  });
});
