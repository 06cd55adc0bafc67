// The versioning part of @baton/runtime: its public exports only.
export {
  type ApiChange,
  type ApiTransformContext,
  type ApiVersioning,
  type ApiVersioningOptions,
  apiVersioning,
  type RefusedVersion,
  type RequestHead,
  type ResolvedVersion,
  type VersionResolution,
  type VersionSource,
} from "./api-versioning.js";
export type { Retirement } from "./deprecation-headers.js";
export { expressApiVersioning } from "./express-api-versioning.js";
export { type FastifyApiVersioningPlugin, fastifyApiVersioning } from "./fastify-api-versioning.js";
export {
  type HttpApiVersioningOptions,
  httpApiVersioning,
  type VersionedHandler,
  type VersionedRequest,
  type VersionedResponse,
} from "./http-api-versioning.js";
export type { RouteInfo, RouteScope } from "./route-pattern.js";
export { VersionTransformError } from "./version-chain.js";
export { type ProtocolTransformContext, VersionedSocket, type WebSocketLike } from "./versioned-socket.js";
export {
  type ProtocolChange,
  type VersionedServerOptions,
  type WebSocketVersioning,
  type WebSocketVersioningOptions,
  webSocketVersioning,
} from "./websocket-versioning.js";
