import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fileDigests } from "./file-digests.js";

describe("release file digests", () => {
  it("hashes every file of the release directory, skipping node_modules and .git", async () => {
    const dir = await mkdtemp(join(tmpdir(), "baton-digest-"));
    try {
      await mkdir(join(dir, "src"));
      await mkdir(join(dir, "node_modules", "x"), { recursive: true });
      await writeFile(join(dir, "server.js"), "console.log(1)\n");
      await writeFile(join(dir, "src", "a.js"), "a");
      await writeFile(join(dir, "node_modules", "x", "big.js"), "ignored");
      const d = await fileDigests(dir);
      expect(Object.keys(d)).toEqual(["server.js", "src/a.js"]);
      expect(d["src/a.js"]).toBe(createHash("sha256").update("a").digest("hex"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
