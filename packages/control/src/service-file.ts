import { durationSchema, optionalDurationSchema, parseYamlConfig } from "@baton/router";
import { z } from "zod";
import { DEFAULT_ANALYSIS } from "./analysis/canary-analysis.js";

const weightPercent = z.number().min(0).max(100);

const canaryStep = z.strictObject({
  /** Share of users on the new version, in percent. */
  weight: weightPercent,
  /** How long to hold (while analysis runs); absent means "wait for `baton promote`". */
  pause: optionalDurationSchema(),
});

/** `baton.yaml`: one service and how it is released. */
export const serviceFileSchema = z
  .strictObject({
    service: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "service names are 1-63 letters, digits, '.', '_' or '-'"),
    /** The router's public port for this service. */
    listen: z.number().int().min(1).max(65_535),
    instances: z.number().int().min(1).max(256).default(2),
    /**
     * Where instances come from: `local` runs `run` itself; `static` takes the addresses of
     * instances something else runs, given at each deploy (`--instances`).
     */
    provider: z.enum(["local", "static"]).default("local"),
    /** Command started per instance with PORT and BATON_VERSION set; cwd is the release's directory. */
    run: z.string().min(1).optional(),
    health: z
      .strictObject({
        readiness: z
          .string()
          .startsWith("/", "readiness must be a path starting with /")
          .default("/health/ready"),
        liveness: z.string().startsWith("/", "liveness must be a path starting with /").optional(),
        /** How long a new instance has to pass its readiness check before the release gives up. */
        startTimeout: durationSchema("60s"),
      })
      .prefault({}),
    strategy: z.enum(["rolling", "blue-green", "canary"]).default("canary"),
    rolling: z
      .strictObject({
        maxSurge: z.number().int().min(0).default(1),
        maxUnavailable: z.number().int().min(0).default(0),
        minReady: durationSchema("5s"),
      })
      .prefault({})
      .refine(
        (r) => r.maxSurge + r.maxUnavailable > 0,
        "maxSurge and maxUnavailable cannot both be 0: nothing could move",
      ),
    blueGreen: z
      .strictObject({
        /** Paths sent to the new version through the router before the switch (default: readiness). */
        previewChecks: z.array(z.string().startsWith("/")).optional(),
        keepOldFor: durationSchema("24h"),
      })
      .prefault({}),
    canary: z
      .strictObject({
        steps: z
          .array(canaryStep)
          .min(1)
          .default([
            { weight: 10, pause: "30s" } as never,
            { weight: 50, pause: "30s" } as never,
            { weight: 100 },
          ])
          .superRefine((steps, ctx) => {
            steps.forEach((s, i) => {
              if (i > 0 && s.weight < steps[i - 1]!.weight) {
                ctx.addIssue({
                  code: "custom",
                  path: [i, "weight"],
                  message: "canary weights must not go down",
                });
              }
            });
            if (steps.at(-1)!.weight !== 100) {
              ctx.addIssue({
                code: "custom",
                path: [steps.length - 1, "weight"],
                message: "the last step must reach 100",
              });
            }
          }),
      })
      .prefault({}),
    analysis: z
      .strictObject({
        minRequests: z.number().int().min(1).default(DEFAULT_ANALYSIS.minRequests),
        maxErrorRateIncrease: z.number().min(0).max(1).default(DEFAULT_ANALYSIS.maxErrorRateIncrease),
        maxP95IncreaseMs: z.number().min(0).default(DEFAULT_ANALYSIS.maxP95IncreaseMs),
        confidence: z.number().gt(0.5).lt(1).default(DEFAULT_ANALYSIS.confidence),
      })
      .prefault({}),
    stickiness: z.strictObject({ header: z.string().optional(), cookie: z.string().optional() }).prefault({}),
    drain: z.strictObject({ timeout: durationSchema("30s"), preStop: durationSchema("2s") }).prefault({}),
    /**
     * The database migration a release needs (pgroll format, path in the release's directory):
     * started before the new instances, completed once the old version has drained, rolled back
     * with the release.
     */
    migration: z
      .strictObject({
        file: z.string().min(1),
        schema: z.string().min(1).default("public"),
        /** The environment variable holding the application's database URL. */
        databaseEnv: z.string().min(1).default("DATABASE_URL"),
      })
      .optional(),
    /** Release waves: each region has its own router (admin API) and instances. */
    regions: z
      .array(
        z.strictObject({
          name: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,32}$/, "region names are 1-32 letters, digits, '_' or '-'"),
          /** That region's router admin API. */
          router: z.string().url("router must be the URL of that region's router admin API"),
          /** That region's public router URL (blue-green preview checks go through it). */
          url: z.string().url("url must be the public URL of that region's router").optional(),
          /** How long the new version serves the region, under analysis, before the next region. */
          bake: durationSchema("60s"),
        }),
      )
      .default([]),
  })
  .superRefine((f, ctx) => {
    if (f.provider === "local" && !f.run)
      ctx.addIssue({
        code: "custom",
        path: ["run"],
        message: "run is required with the local provider (the command that starts one instance)",
      });
    const names = new Set<string>();
    f.regions.forEach((r, i) => {
      if (names.has(r.name))
        ctx.addIssue({
          code: "custom",
          path: ["regions", i, "name"],
          message: `duplicate region "${r.name}"`,
        });
      names.add(r.name);
    });
  })
  .transform((f) => ({
    ...f,
    blueGreen: { ...f.blueGreen, previewChecks: f.blueGreen.previewChecks ?? [f.health.readiness] },
  }));

export type ServiceFile = z.output<typeof serviceFileSchema>;
export type ServiceFileInput = z.input<typeof serviceFileSchema>;

/** Parses and validates `baton.yaml`; a ConfigError names each bad key with its line. */
export function parseServiceFile(text: string, source = "baton.yaml"): ServiceFile {
  return parseYamlConfig(serviceFileSchema, text, source);
}

/** The JSON Schema of `baton.yaml` (input form), for editors. */
export function serviceFileJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(serviceFileSchema, { io: "input", unrepresentable: "any" }),
    title: "baton.yaml",
    description: "A service released by Baton: how to run it and how to roll out a new version.",
  };
}
