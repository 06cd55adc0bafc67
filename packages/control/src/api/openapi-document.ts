import { createRequire } from "node:module";
import { z } from "zod";
import { ERRORS, type ErrorCode } from "../errors.js";
import type { ApiRoute } from "./api-route.js";
import { apiSchemas } from "./api-schemas.js";

type JsonSchema = Record<string, unknown>;

const COMPONENT = "#/components/schemas/";
const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

/**
 * The OpenAPI 3.1 document of `routes`, made from the same zod schemas that parse their input:
 * named schemas (`apiSchemas`) become `components.schemas`, query and path schemas become
 * parameters, and each operation lists the catalog's error codes it may answer with, by status.
 */
export function openApiDocument(routes: readonly ApiRoute[]): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, "{$1}");
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(route) };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Baton control plane API",
      version,
      description:
        "Releases of one service (or release waves over regions): deploy, follow, promote, abort, " +
        "roll back. Every error is `{ error: { code, message, field? } }` with a code from the " +
        "ErrorCode catalog, each code always with the same status. Bodies are JSON; answers may " +
        "gain fields.",
    },
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "The API token (BATON_API_TOKEN, or `<data dir>/api.token` of `baton up`).",
        },
      },
    },
  };
}

function operation(route: ApiRoute): JsonSchema {
  const parameters = [
    ...(route.params ? parametersOf(route.params, "path") : []),
    ...(route.query ? parametersOf(route.query, "query") : []),
  ];
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    ...(route.public ? { security: [] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(route.body
      ? {
          requestBody: {
            description: "JSON; an empty body is `{}`",
            content: { "application/json": { schema: refTo(route.body) } },
          },
        }
      : {}),
    responses: {
      [route.response.status]: {
        description: route.response.description,
        content: { "application/json": { schema: refTo(route.response.schema) } },
      },
      ...(route.accepted
        ? {
            202: {
              description: route.accepted.description,
              content: { "application/json": { schema: refTo(route.accepted.schema) } },
            },
          }
        : {}),
      ...errorResponses(errorsOf(route)),
    },
  };
}

/** The codes a route may answer with: its own, and those every route of its kind has. */
export function errorsOf(route: ApiRoute): ErrorCode[] {
  const codes = new Set<ErrorCode>(["BATON_BAD_REQUEST", ...route.errors, "BATON_INTERNAL"]);
  if (!route.public) codes.add("BATON_UNAUTHORIZED");
  if (route.method === "POST" || route.method === "PUT") {
    codes.add("BATON_BODY_TOO_LARGE");
    codes.add("BATON_UNSUPPORTED_MEDIA_TYPE");
  }
  return [...codes];
}

function errorResponses(codes: ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes)
    byStatus.set(ERRORS[code].status, [...(byStatus.get(ERRORS[code].status) ?? []), code]);
  return Object.fromEntries(
    [...byStatus]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => [
        String(status),
        {
          description: list.map((code) => `${code}: ${ERRORS[code].description}`).join("\n\n"),
          content: { "application/json": { schema: { $ref: `${COMPONENT}Error` } } },
        },
      ]),
  );
}

/** A reference to a named schema; a route's bodies and answers are all named, to be shared. */
function refTo(schema: z.ZodType): JsonSchema {
  const id = apiSchemas.get(schema)?.id;
  if (!id) throw new Error("a route's body or answer schema must be named in apiSchemas");
  return { $ref: `${COMPONENT}${id}` };
}

function componentSchemas(): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(apiSchemas, {
    target: "draft-2020-12",
    // What a client sends and reads: defaults are optional, transforms show their input.
    io: "input",
    unrepresentable: "any",
    uri: (id) => `${COMPONENT}${id}`,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema, $id, ...schema }]) => [id, schema as JsonSchema]),
  );
}

/** One parameter per property of an object schema (query string or path). */
function parametersOf(schema: z.ZodType, where: "query" | "path"): JsonSchema[] {
  const json = z.toJSONSchema(schema, { target: "draft-2020-12", io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, { description, ...property }]) => ({
    name,
    in: where,
    required: where === "path" || (json.required ?? []).includes(name),
    ...(description ? { description } : {}),
    schema: property,
  }));
}
