import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function baton(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("the baton command", () => {
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
