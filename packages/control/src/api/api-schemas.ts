import { z } from "zod";
import { actorBody, deployBody, rollbackBody } from "../api-input.js";
import { API_ERROR_CODES, ERRORS } from "../errors.js";
import { ReleaseStatus } from "../release/release-lifecycle.js";

/**
 * What the API answers, described once for its OpenAPI document (and checked against real answers
 * by the tests). Every object is loose: answers are sent as the control plane makes them, never
 * trimmed to these schemas, so a field it adds is an addition to the API, not a break.
 *
 * The registry names the schemas that become `components.schemas` of the document.
 */
export const apiSchemas = z.registry<{ id: string }>();

const instanceRecord = z.looseObject({
  pid: z.number().int().describe("0 for an instance Baton does not run (static provider)"),
  startedAt: z.number().optional(),
  port: z.number().int(),
  version: z.string(),
  address: z.string().optional().describe("host:port, when the instance is not on this machine's loopback"),
});

export const release = z
  .looseObject({
    id: z.number().int(),
    service: z.string(),
    version: z.string(),
    previousVersion: z.string().nullable(),
    strategy: z
      .string()
      .describe(
        "initial, rolling, blue-green, canary, immediate (all at once) or rollback (one switch to the warm version)",
      ),
    status: z.enum(Object.values(ReleaseStatus)),
    step: z.number().int(),
    stepStartedAt: z.string().nullable(),
    reason: z.string().nullable(),
    instances: z.array(instanceRecord),
    previousInstances: z.array(instanceRecord),
    dir: z.string().nullable(),
    env: z.record(z.string(), z.string()),
    rollbackOf: z.string().nullable().describe("a rollback: the version it rolled back from"),
    settings: z.record(z.string(), z.unknown()).describe("the baton.yaml settings the release ran with"),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .describe("A release as stored; the control plane may add fields.")
  .register(apiSchemas, { id: "Release" });

export const decision = z
  .looseObject({
    releaseId: z.number().int(),
    step: z.number().int(),
    decision: z
      .string()
      .describe(
        "pass, fail, inconclusive, promoted (by the operator or onInconclusive), paused (inconclusive past maxInconclusive), carried-on (a time-boxed step ended with nothing wrong found), or baseline (blue-green: the old version's numbers before the switch)",
      ),
    reason: z.string(),
    numbers: z.record(z.string(), z.unknown()),
  })
  .describe("One look of a release's analysis.")
  .register(apiSchemas, { id: "Decision" });

const instanceView = z.looseObject({ address: z.string(), state: z.string(), pid: z.number().int() });

export const serviceStatus = z
  .looseObject({
    service: z.string(),
    serving: z.looseObject({ version: z.string(), instances: z.array(instanceView) }).nullable(),
    warm: z
      .looseObject({ version: z.string(), until: z.string(), instances: z.array(instanceView) })
      .nullable()
      .describe(
        "the previous version while it is kept warm (keepPreviousFor): a rollback is then one switch",
      ),
    release: release.nullable().describe("the latest release"),
    decisions: z.array(decision),
    waiting: z
      .looseObject({
        kind: z.enum(["starting", "promote", "analysis", "pause", "paused"]),
        message: z.string(),
        seconds: z.number().optional(),
      })
      .nullable()
      .optional()
      .describe("what the release in flight waits for, in words (null when nothing)"),
    auditChain: z
      .looseObject({ ok: z.boolean(), problem: z.string().optional(), checkedAt: z.string() })
      .optional()
      .describe("whether the audit log's hash chain verifies (checked at most once a minute)"),
    router: z.looseObject({}).optional().describe("`baton up`: its supervised router process"),
  })
  .describe("What serves one service, and its latest release.")
  .register(apiSchemas, { id: "ServiceStatus" });

export const regionalStatus = z
  .looseObject({
    service: z.string(),
    release: release.nullable().describe("the latest wave: a release of the version across every region"),
    decisions: z.array(decision),
    regions: z.array(serviceStatus.extend({ region: z.string() })),
  })
  .describe("Release waves: what serves in each region.")
  .register(apiSchemas, { id: "RegionalStatus" });

export const releaseDetail = z
  .looseObject({ release, decisions: z.array(decision) })
  .register(apiSchemas, { id: "ReleaseDetail" });

const bound = z.number().nullable();

export const analysisLook = z
  .looseObject({
    at: z.string(),
    step: z.number().int(),
    decision: z.string().describe("pass, fail or inconclusive at this look"),
    requests: z.looseObject({ treatment: z.number(), control: z.number() }),
    errorRate: z
      .looseObject({ treatment: bound, control: bound, increase: bound, lower: bound, upper: bound })
      .describe(
        "0..1; the step fails when `lower` > analysis.maxErrorRateIncrease, passes when `upper` < it",
      ),
    latency: z
      .looseObject({
        p95Treatment: bound,
        p95Control: bound,
        increaseMs: bound,
        lowerMs: bound,
        upperMs: bound,
      })
      .describe("ms; the step fails when `lowerMs` > analysis.maxP95IncreaseMs, passes when `upperMs` < it"),
    metrics: z.array(
      z
        .looseObject({
          name: z.string(),
          decision: z.string(),
          treatment: bound,
          control: bound,
          excess: bound,
          excessLower: bound,
          excessUpper: bound,
        })
        .describe("how far past its tolerance (> 0: worse than allowed); fails when excessLower > 0"),
    ),
  })
  .describe("One look of the analysis, with the bounds its sequential tests used (null: not bounded yet).")
  .register(apiSchemas, { id: "AnalysisLook" });

export const releaseAnalysis = z
  .looseObject({
    releaseId: z.number().int(),
    analysis: z.record(z.string(), z.unknown()).describe("the release's analysis settings (tolerances)"),
    looks: z.array(analysisLook),
  })
  .register(apiSchemas, { id: "ReleaseAnalysis" });

export const releaseTimeline = z
  .looseObject({
    releaseId: z.number().int(),
    events: z.array(z.looseObject({ at: z.string(), line: z.string() })),
  })
  .register(apiSchemas, { id: "ReleaseTimeline" });

export const logTail = z
  .looseObject({
    version: z.string(),
    instance: z.string().describe("the instance's log file, e.g. 0-41235.log (index and port)"),
    lines: z.array(z.string()),
    live: z.boolean().optional().describe("whether the instance runs now"),
  })
  .register(apiSchemas, { id: "LogTail" });

export const auditVerification = z
  .looseObject({
    rows: z.number().int(),
    problems: z.array(
      z.looseObject({
        seq: z.number().int(),
        problem: z.enum(["changed", "removed", "out-of-order", "truncated"]),
        detail: z.string(),
      }),
    ),
  })
  .describe("The audit log's hash chain, checked: no problems means no event was changed or lost.")
  .register(apiSchemas, { id: "AuditVerification" });

export const status = z.union([serviceStatus, regionalStatus]).register(apiSchemas, { id: "Status" });
export const releaseList = z.array(release).register(apiSchemas, { id: "ReleaseList" });
export const logTailList = z.array(logTail).register(apiSchemas, { id: "LogTailList" });

/** The answers of actions that go on in the background (202). */
export const promoted = z.looseObject({ promoted: z.literal(true) }).register(apiSchemas, { id: "Promoted" });
export const aborting = z.looseObject({ aborting: z.literal(true) }).register(apiSchemas, { id: "Aborting" });
export const stopping = z.looseObject({ stopping: z.literal(true) }).register(apiSchemas, { id: "Stopping" });

export const openApiObject = z
  .looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) })
  .describe("An OpenAPI 3.1 document")
  .register(apiSchemas, { id: "OpenApiDocument" });

export const errorCode = z
  .union(
    API_ERROR_CODES.map((code) =>
      z.literal(code).describe(`HTTP ${ERRORS[code].status}: ${ERRORS[code].description}`),
    ),
  )
  .describe("A stable code from Baton's error catalog; each has exactly one HTTP status.")
  .register(apiSchemas, { id: "ErrorCode" });

export const errorEnvelope = z
  .looseObject({
    error: z.looseObject({
      code: errorCode,
      message: z.string().describe("for people: what is wrong, and what to do about it"),
      field: z.string().optional().describe("BATON_BAD_REQUEST: the field or parameter at fault"),
    }),
  })
  .describe("Every error the API answers with.")
  .register(apiSchemas, { id: "Error" });

deployBody.register(apiSchemas, { id: "DeployRequest" });
actorBody.register(apiSchemas, { id: "ActorRequest" });
rollbackBody.register(apiSchemas, { id: "RollbackRequest" });
