import { cidrProblem, durationSchema, optionalDurationSchema, parseYamlConfig } from "@baton/router";
import { z } from "zod";
import { DEFAULT_ANALYSIS } from "./analysis/canary-analysis.js";
import { metricCheckSchema, uniqueNames } from "./analysis/metric-check-schema.js";

const weightPercent = z.number().min(0).max(100);

const canaryStep = z
  .strictObject({
    weight: weightPercent.describe("Share of users on the new version at this step, in percent (0-100)."),
    pause: optionalDurationSchema().describe(
      "How long to hold this step while the analysis runs (e.g. 30s); the step ends when the pause is over and the analysis passes. Absent: the step waits for `baton promote`.",
    ),
  })
  .describe("One step of a canary release.");

/** `baton.yaml`: one service and how it is released. */
export const serviceFileSchema = z
  .strictObject({
    service: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "service names are 1-63 letters, digits, '.', '_' or '-'")
      .describe("The service's name: 1-63 letters, digits, '.', '_' or '-'."),
    listen: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .describe("The router's public port for this service (it binds 0.0.0.0 unless told otherwise)."),
    instances: z
      .number()
      .int()
      .min(1)
      .max(256)
      .default(2)
      .describe("How many instances of each version run. Read again at every deploy."),
    provider: z
      .enum(["local", "static"])
      .default("local")
      .describe(
        "Where instances come from: `local` runs `run` itself; `static` takes the addresses of instances something else runs, given at each deploy (`--instances`).",
      ),
    run: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The command that starts one instance (local provider), run in the release's directory with PORT, BATON_VERSION and BATON_SERVICE set.",
      ),
    health: z
      .strictObject({
        readiness: z
          .string()
          .startsWith("/", "readiness must be a path starting with /")
          .default("/health/ready")
          .describe(
            "Path answering 2xx when an instance is ready for traffic; the router checks it every 500ms.",
          ),
        liveness: z
          .string()
          .startsWith("/", "liveness must be a path starting with /")
          .optional()
          .describe("Path answering 2xx while an instance is alive (optional)."),
        startTimeout: durationSchema("60s").describe(
          "How long a new instance has to pass its readiness check before the release gives up.",
        ),
      })
      .prefault({})
      .describe("How Baton tells that an instance is ready."),
    strategy: z
      .enum(["rolling", "blue-green", "canary"])
      .default("canary")
      .describe("How a new version replaces the old one. Every strategy is judged by `analysis`."),
    keepPreviousFor: durationSchema("15m").describe(
      "How long the previous version stays running after a release, health-checked at weight 0, so that `baton rollback` is one switch. 0 stops it as soon as it has drained.",
    ),
    rolling: z
      .strictObject({
        maxSurge: z
          .number()
          .int()
          .min(0)
          .default(1)
          .describe("How many new instances start at a time, above the desired count."),
        maxUnavailable: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe("How many old instances may leave before their replacements are ready."),
        minReady: durationSchema("5s").describe(
          "How long each new batch must stay ready before it takes traffic.",
        ),
        judgeFor: durationSchema("30s").describe(
          "How long each batch is judged against the old instances before old ones leave: it goes on as soon as the analysis passes, or at the end unless the analysis failed. 0 turns the analysis off.",
        ),
      })
      .prefault({})
      .refine(
        (r) => r.maxSurge + r.maxUnavailable > 0,
        "maxSurge and maxUnavailable cannot both be 0: nothing could move",
      )
      .describe(
        "Rolling releases: batch by batch; each batch is compared with the old instances by the analysis before old ones leave.",
      ),
    blueGreen: z
      .strictObject({
        previewChecks: z
          .array(z.string().startsWith("/"))
          .optional()
          .describe(
            "Paths sent to the new version through the router before the switch; each must answer 2xx (default: the readiness path).",
          ),
        previewUsers: z
          .array(z.string().min(1).max(256))
          .max(1000)
          .default([])
          .describe(
            "Sticky keys (the stickiness header's or cookie's values, e.g. user ids of your team) sent to the new set before the switch.",
          ),
        previewFor: durationSchema("0s").describe(
          "How long the preview is held before the switch while the preview users' traffic is judged against everyone else's; a failure rolls back before anyone else sees the new version. 0: switch once the preview checks pass.",
        ),
        keepOldFor: optionalDurationSchema().describe(
          "How long the old set stays warm after the switch (default: keepPreviousFor).",
        ),
        postSwitchAnalysis: durationSchema("60s").describe(
          "After the switch, how long the new version is compared with the old version's own numbers from just before the switch; a failure switches back at once. 0 turns it off.",
        ),
      })
      .prefault({})
      .describe("Blue-green releases: the whole new set is previewed, then one switch."),
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
          })
          .describe("The traffic steps; the last one (100) is the promotion."),
      })
      .prefault({})
      .describe("Canary releases: traffic moves step by step while the analysis compares versions."),
    analysis: z
      .strictObject({
        minRequests: z
          .number()
          .int()
          .min(1)
          .default(DEFAULT_ANALYSIS.minRequests)
          .describe(
            "Requests the new version must serve before a step may pass (a clearly bad version fails sooner).",
          ),
        maxErrorRateIncrease: z
          .number()
          .min(0)
          .max(1)
          .default(DEFAULT_ANALYSIS.maxErrorRateIncrease)
          .describe(
            "Largest acceptable increase of the new version's 5xx rate over the old one's (0.02 = 2 points).",
          ),
        maxP95IncreaseMs: z
          .number()
          .min(0)
          .default(DEFAULT_ANALYSIS.maxP95IncreaseMs)
          .describe("Largest acceptable increase of the new version's p95 latency, in ms."),
        confidence: z
          .number()
          .gt(0.5)
          .lt(1)
          .default(DEFAULT_ANALYSIS.confidence)
          .describe(
            "1 - the chance of failing a version that is within the tolerances, however often the analysis looks.",
          ),
        maxInconclusive: durationSchema("5m").describe(
          "How long a step may stay inconclusive (too little traffic) before `onInconclusive` applies.",
        ),
        onInconclusive: z
          .enum(["pause", "promote", "rollback"])
          .default("pause")
          .describe(
            "What a step inconclusive for `maxInconclusive` does: pause for a human (`baton promote` or `baton abort`), promote, or roll back.",
          ),
        metrics: z
          .array(metricCheckSchema)
          .max(20)
          .default([])
          .superRefine(uniqueNames)
          .describe(
            "The application's own numbers, judged per version with the same sequential tests: counts per request (from @baton/runtime's createReleaseMetrics, or a Prometheus `query`) and quantiles of histograms.",
          ),
        prometheus: z
          .strictObject({
            url: z
              .url({ protocol: /^https?$/ })
              .describe("The Prometheus server's address, e.g. http://127.0.0.1:9090."),
            timeout: durationSchema("2s").describe("How long one query may take."),
            settle: durationSchema("30s").describe(
              "How long a step runs before its queries are read: increase() needs a few scrapes of a new version's series (about 4 scrape intervals).",
            ),
          })
          .optional()
          .describe("Where metrics with a `query` are read."),
      })
      .superRefine((a, ctx) => {
        const i = a.metrics.findIndex((m) => "query" in m && m.query !== undefined);
        if (i >= 0 && !a.prometheus)
          ctx.addIssue({
            code: "custom",
            path: ["metrics", i, "query"],
            message: "a metric with a query needs analysis.prometheus.url (where Prometheus answers)",
          });
      })
      .prefault({})
      .describe("How every release compares the new version with the old one, sequentially."),
    stickiness: z
      .strictObject({
        header: z
          .string()
          .optional()
          .describe("Request header carrying a user's sticky key (a user id): one user, one version."),
        cookie: z
          .string()
          .optional()
          .describe(
            "Cookie carrying the sticky key when there is no header (set by the application, or by the router: see assign).",
          ),
        assign: z
          .enum(["cookie", "random", "address"])
          .default("cookie")
          .describe(
            "A request with no sticky key gets: `cookie` (default) a random bucket the router sends back as a cookie (baton_sticky, or `cookie`), so browsers stay on one version and clients keeping no cookies are split per request; `random` a bucket per request, no cookie; `address` the client's address (behind a load balancer, only with trustedProxies).",
          ),
        cookieMaxAge: optionalDurationSchema().describe(
          "How long the router's sticky cookie lasts (default 30d).",
        ),
      })
      .prefault({})
      .describe("How the router keeps each user on one version during a split."),
    trustedProxies: z
      .array(
        z.string().superRefine((entry, ctx) => {
          const problem = cidrProblem(entry);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
      )
      .default([])
      .describe(
        "Proxies in front of the router (addresses or CIDR ranges) whose X-Forwarded-For and X-Forwarded-Proto are believed; nobody's by default.",
      ),
    drain: z
      .strictObject({
        timeout: durationSchema("30s").describe(
          "How long an old instance may finish its requests and WebSockets before it is stopped.",
        ),
        preStop: durationSchema("2s").describe(
          "Not used yet: an instance gets its stop signal once the router reports it drained.",
        ),
      })
      .prefault({})
      .describe("How old instances leave."),
    migration: z
      .strictObject({
        file: z.string().min(1).describe("The migration file (pgroll format), in the release's directory."),
        schema: z.string().min(1).default("public").describe("The schema of the migrated tables."),
        databaseEnv: z
          .string()
          .min(1)
          .default("DATABASE_URL")
          .describe("The environment variable holding the application's database URL."),
        backfill: z
          .strictObject({
            batchSize: z
              .number()
              .int()
              .min(1)
              .max(1_000_000)
              .optional()
              .describe("Rows per batch, each its own short transaction (default 5000)."),
            delay: optionalDurationSchema().describe("A pause between batches (default none)."),
          })
          .optional()
          .describe(
            "How backfills touch existing rows: smaller batches with a pause between them go easier on a busy database.",
          ),
      })
      .optional()
      .describe(
        "The database migration a release needs: started before the new instances, completed once the old version has drained, rolled back with the release.",
      ),
    regions: z
      .array(
        z
          .strictObject({
            name: z
              .string()
              .regex(/^[A-Za-z0-9_-]{1,32}$/, "region names are 1-32 letters, digits, '_' or '-'")
              .describe("The region's name."),
            router: z
              .string()
              .url("router must be the URL of that region's router admin API")
              .describe("That region's router admin API URL."),
            url: z
              .string()
              .url("url must be the public URL of that region's router")
              .optional()
              .describe("That region's public router URL (blue-green preview checks go through it)."),
            bake: durationSchema("60s").describe(
              "How long the new version serves the region, under analysis, before the next region.",
            ),
          })
          .describe("One region of a release wave."),
      )
      .default([])
      .describe("Release waves: each region has its own router and instances, released one after another."),
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
    blueGreen: {
      ...f.blueGreen,
      previewChecks: f.blueGreen.previewChecks ?? [f.health.readiness],
      keepOldFor: f.blueGreen.keepOldFor ?? f.keepPreviousFor,
    },
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

/** How long the previous version stays warm after a release of this strategy. */
export function keepPreviousOf(file: ServiceFile, strategy: string): number {
  return strategy === "blue-green" ? file.blueGreen.keepOldFor : file.keepPreviousFor;
}

/** The settings a release of this strategy runs with, kept with the release for the history. */
export function releaseSettings(file: ServiceFile, strategy: string): Record<string, unknown> {
  const byStrategy: Record<string, unknown> = {
    canary: { steps: file.canary.steps },
    rolling: file.rolling,
    "blue-green": {
      previewChecks: file.blueGreen.previewChecks,
      previewUsers: file.blueGreen.previewUsers.length,
      previewFor: file.blueGreen.previewFor,
      postSwitchAnalysis: file.blueGreen.postSwitchAnalysis,
    },
  };
  return {
    instances: file.instances,
    strategy,
    /** The path the version is checked on for its whole life (see InstanceRecord.readinessPath). */
    readiness: file.health.readiness,
    ...(byStrategy[strategy] ? { [strategy]: byStrategy[strategy] } : {}),
    analysis: file.analysis,
    keepPreviousFor: keepPreviousOf(file, strategy),
    drain: file.drain,
  };
}
