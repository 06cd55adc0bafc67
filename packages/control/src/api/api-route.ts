import type { FastifyReply } from "fastify";
import type { z } from "zod";
import type { ErrorCode } from "../errors.js";

type Output<S> = S extends z.ZodType ? z.output<S> : undefined;

/**
 * One route of the API, described once: Fastify routes it, its schemas parse what it gets, and
 * the OpenAPI document is made from the same description.
 */
export interface ApiRoute<
  Q extends z.ZodType | undefined = z.ZodType | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  P extends z.ZodType | undefined = z.ZodType | undefined,
> {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Fastify's form, e.g. `/v1/releases/:id`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  /** Answered without the bearer token. */
  public?: true;
  /** The query string; none: any parameter is refused. */
  query?: Q;
  /** POST, PUT, DELETE: the JSON body; an empty body is `{}`. */
  body?: B;
  /** The path's parameters. */
  params?: P;
  response: { status: 200 | 202; description: string; schema: z.ZodType };
  /**
   * A second answer, 202, for a request taken to be done later (a scheduled change): the handler
   * says so with `reply.code(202)`.
   */
  accepted?: { description: string; schema: z.ZodType };
  /** The codes this route itself may answer with, beyond those of every route (401, 400, 500...). */
  errors: readonly ErrorCode[];
  handle(
    input: { query: Output<Q>; body: Output<B>; params: Output<P> },
    reply: FastifyReply,
  ): Promise<unknown> | unknown;
}

/** Types a route's handler by its schemas; the route list holds them as `ApiRoute`. */
export function defineRoute<
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
  P extends z.ZodType | undefined = undefined,
>(route: ApiRoute<Q, B, P>): ApiRoute {
  return route as unknown as ApiRoute;
}
