/** A request as a change's scope sees it: the method and the path under `pathPrefix`, without version or query. */
export interface RouteInfo {
  method: string;
  path: string;
}

/**
 * Which routes a change concerns: patterns such as `"POST /payments"`, `"/payments/:id"` (any
 * method) or `"/payments/*"` (the rest of the path), or a predicate.
 */
export type RouteScope = readonly string[] | ((route: RouteInfo) => boolean);

/** Compiles a scope once, so that the request path pays a few string comparisons. */
export function routeMatcher(scope: RouteScope | undefined): (route: RouteInfo) => boolean {
  if (scope === undefined) return () => true;
  if (typeof scope === "function") return scope;
  const patterns = scope.map(compile);
  // A request is matched against each change in turn: split its path once, not per change.
  let lastPath = "";
  let lastSegments: string[] = [];
  const split = (path: string) => {
    if (path !== lastPath) [lastPath, lastSegments] = [path, segments(path)];
    return lastSegments;
  };
  return (route) => patterns.some((p) => p(route, split));
}

function compile(pattern: string): (route: RouteInfo, split: (path: string) => string[]) => boolean {
  const trimmed = pattern.trim();
  const space = trimmed.indexOf(" ");
  const method = space > 0 ? trimmed.slice(0, space).toUpperCase() : undefined;
  const path = space > 0 ? trimmed.slice(space + 1).trim() : trimmed;
  if (!path.startsWith("/"))
    throw new Error(`versioning: route "${pattern}" must be "METHOD /path" or "/path" (with :params or *)`);
  const parts = segments(path);
  const rest = parts[parts.length - 1] === "*";
  if (rest) parts.pop();
  return (route, split) => {
    if (method !== undefined && route.method.toUpperCase() !== method) return false;
    const got = split(route.path);
    if (rest ? got.length < parts.length : got.length !== parts.length) return false;
    return parts.every((p, i) => p.startsWith(":") || p === got[i]);
  };
}

function segments(path: string): string[] {
  return path.split("/").filter((s) => s !== "");
}
