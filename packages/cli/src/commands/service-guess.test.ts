import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { guessService } from "./service-guess.js";

describe("baton init's guess of the health path", () => {
  it("takes /readyz for a service that answers probes with @baton/runtime's health()", async () => {
    const dir = await mkdtemp(join(tmpdir(), "baton-guess-"));
    try {
      await writeFile(
        join(dir, "package.json"),
        JSON.stringify({ name: "shop", scripts: { start: "node server.js" } }),
      );
      await writeFile(
        join(dir, "server.js"),
        'import { expressHealth, health } from "@baton/runtime";\nconst checks = health({ checks: [] });\napp.use(expressHealth(checks));\napp.listen(process.env.PORT);\n',
      );
      expect((await guessService(dir)).healthPath).toBe("/readyz");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
