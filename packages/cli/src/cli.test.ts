import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseServiceFile } from "@baton/control";
import { afterAll, describe, expect, it } from "vitest";
import { migrateSchema, TEST_DATABASE_URL } from "../../migrate/src/test-support/migrate-db.js";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function baton(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return batonIn(process.cwd(), ...args);
}

function batonIn(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 20_000, cwd }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function serviceDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "baton-init-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

// Every test has its own directory (and schema): each describe runs its tests at once.
describe.concurrent("the baton command", () => {
  it("prints the JSON Schema of baton.yaml", async () => {
    const { code, stdout } = await baton("schema");
    expect(code).toBe(0);
    expect(JSON.parse(stdout).title).toBe("baton.yaml");
  });

  it("refuses a bad router config with exit code 2, naming the file, line and key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "baton-cli-"));
    dirs.push(dir);
    const file = join(dir, "router.yaml");
    await writeFile(
      file,
      "listen: 127.0.0.1:0\nservices:\n  - name: a\n    tracks: { s: { version: v1, weight: 10000, instances: [nope] } }\n",
    );
    const { code, stderr } = await baton("router", "--config", file);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}:4:`);
    expect(stderr).toContain("services[0].tracks.s.instances[0]: not a host:port address");
  });

  it("does not let a library turn SIGHUP or SIGTERM into an exit (the router reloads and drains on them)", async () => {
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `await import(${JSON.stringify(BIN.replace("bin.js", "main.js"))}); console.log(process.listenerCount("SIGHUP") + process.listenerCount("SIGTERM"));`,
        ],
        (err, out) => resolve({ code: err ? 1 : 0, stdout: out }),
      );
    });
    expect(code).toBe(0);
    expect(stdout.trim()).toBe("0");
  });

  it("says which command exists when given an unknown one", async () => {
    const { code, stderr } = await baton("deploy-now");
    expect(code).not.toBe(0);
    expect(stderr).toContain("unknown command");
  });
});

describe.concurrent("baton init", () => {
  it("writes a baton.yaml that parses, with run and the port guessed from package.json and the code", async () => {
    const dir = await serviceDir({
      "package.json": JSON.stringify({ name: "@acme/payments", scripts: { start: "node server.js" } }),
      "server.js":
        'require("http").createServer((q, s) => s.end(q.url === "/healthz" ? "ok" : "hi")).listen(process.env.PORT);\n',
    });
    const r = await batonIn(dir, "init");
    expect(r.code, r.stderr).toBe(0);
    const text = await readFile(join(dir, "baton.yaml"), "utf8");
    const file = parseServiceFile(text, join(dir, "baton.yaml"));
    expect(file).toMatchObject({ service: "payments", run: "npm start", listen: 8080, strategy: "canary" });
    expect(file.health.readiness).toBe("/healthz");
    expect(text).toContain("Guessed from package.json's start script, `node server.js`");
    expect(text).toContain("# The code reads PORT (seen in server.js)");
    expect(r.stdout).toContain("the code reads PORT (server.js)");

    // A file someone wrote is never replaced unasked.
    await writeFile(join(dir, "baton.yaml"), "service: mine\n");
    const again = await batonIn(dir, "init");
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`${join(dir, "baton.yaml")} already exists`);
    expect(again.stderr).toContain("--force");
    expect(await readFile(join(dir, "baton.yaml"), "utf8")).toBe("service: mine\n");
    expect((await batonIn(dir, "init", "--force", "--listen", "9090")).code).toBe(0);
    expect(parseServiceFile(await readFile(join(dir, "baton.yaml"), "utf8")).listen).toBe(9090);
  });

  it("maps PORT onto the variable the code reads, and says so when it reads none", async () => {
    const other = await serviceDir({
      "package.json": JSON.stringify({ name: "api", main: "app.js" }),
      "app.js": "const port = Number(process.env.HTTP_PORT ?? 3000);\n",
    });
    expect((await batonIn(other, "init")).code).toBe(0);
    const mapped = parseServiceFile(await readFile(join(other, "baton.yaml"), "utf8"));
    expect(mapped.run).toBe("HTTP_PORT=$PORT node app.js");

    const bare = await serviceDir({ "main.py": "print('hi')\n" });
    const r = await batonIn(bare, "init");
    expect(r.code, r.stderr).toBe(0);
    const text = await readFile(join(bare, "baton.yaml"), "utf8");
    expect(text).toContain("# No read of PORT was seen in the code");
    expect(parseServiceFile(text).health.readiness).toBe("/");
  });

  it("passes PORT to a well-known server that takes its port as an option (json-server)", async () => {
    const dir = await serviceDir({
      "package.json": JSON.stringify({ name: "api", scripts: { start: "json-server db.json" } }),
    });
    expect((await batonIn(dir, "init")).code).toBe(0);
    const file = parseServiceFile(await readFile(join(dir, "baton.yaml"), "utf8"));
    expect(file.run).toBe("npm start -- --port $PORT --host 127.0.0.1");
  });

  it("never lets package.json or a file name add keys to baton.yaml through its comments", async () => {
    const dir = await serviceDir({
      "package.json": JSON.stringify({
        name: "x",
        scripts: { start: 'node s.js\nkeepPreviousFor: 0s\ntrustedProxies: ["0.0.0.0/0"]\n#' },
      }),
      "y\nprovider: static\n#.js": "const p = process.env.HTTP_PORT;\n",
    });
    const r = await batonIn(dir, "init");
    expect(r.code, r.stderr).toBe(0);
    const file = parseServiceFile(await readFile(join(dir, "baton.yaml"), "utf8"));
    expect(file.keepPreviousFor).toBe(15 * 60_000);
    expect(file.trustedProxies).toEqual([]);
    expect(file.provider).toBe("local");
  });
});

describe("baton migrate", () => {
  it("warns at start that a sql operation without down cannot be undone, and says at rollback what stayed", async () => {
    const db = await migrateSchema("cli_irrev");
    try {
      const dir = await serviceDir({
        "40_create_enum_type.yaml":
          "operations:\n  - sql:\n      up: CREATE TYPE fruit_size AS ENUM ('small', 'medium', 'large');\n",
      });
      const common = ["--database-url", TEST_DATABASE_URL, "--schema", db.schema];
      const start = await batonIn(dir, "migrate", "start", "40_create_enum_type.yaml", ...common);
      expect(start.code, start.stderr).toBe(0);
      expect(start.stderr).toMatch(/warning: 40_create_enum_type\.yaml: operation 1 \(sql\) has no `down`/);
      const back = await batonIn(dir, "migrate", "rollback", ...common);
      expect(back.code, back.stderr).toBe(0);
      expect(back.stdout).toContain(
        `rolled back 40_create_enum_type on ${db.schema}, except what cannot be undone:`,
      );
      expect(back.stdout).toContain(`it created type ${db.schema}.fruit_size`);
    } finally {
      await db.drop();
    }
  });
});
