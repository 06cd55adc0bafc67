import type { z } from "zod";

/** A flag or flag state that does not validate; the message names every bad field by its path. */
export class FlagDefinitionError extends Error {
  constructor(
    readonly what: string,
    readonly issues: ReadonlyArray<{ path: string; message: string }>,
  ) {
    super(`invalid ${what}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ")}`);
    this.name = "FlagDefinitionError";
  }

  static fromZod(what: string, error: z.ZodError): FlagDefinitionError {
    return new FlagDefinitionError(
      what,
      error.issues.map((issue) => ({ path: formatPath(issue.path) || "(root)", message: issue.message })),
    );
  }
}

/** `features[2].strategies[0].parameters.rollout`, the way one would write it in code. */
function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((key, index) => (typeof key === "number" ? `[${key}]` : `${index === 0 ? "" : "."}${String(key)}`))
    .join("");
}
