import { Ajv2020 } from "ajv/dist/2020.js";
import { expect } from "vitest";

interface Answer {
  status: number;
  body: any;
}

/**
 * `conforms(method, path, template, body?)`: makes the request with `call` and checks that the
 * OpenAPI document `doc` describes its status, and that the body matches that status's schema.
 * Answers the response, for the test to go on with.
 */
export function openApiConformance(
  doc: any,
  call: (method: string, path: string, body?: unknown) => Promise<Answer>,
) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(doc, "openapi");
  return async (method: string, path: string, template: string, body?: unknown): Promise<Answer> => {
    const r = await call(method, path, body);
    const response = doc.paths[template][method.toLowerCase()].responses[String(r.status)];
    expect(response, `${method} ${path}: ${r.status} is not described`).toBeDefined();
    const validate = ajv.compile({ $ref: `openapi${response.content["application/json"].schema.$ref}` });
    expect(validate(r.body) ? [] : validate.errors, `${method} ${path}`).toEqual([]);
    return r;
  };
}
