/**
 * What a client of the API (the `baton` CLI's client commands) needs at run time, without loading
 * the control plane's server, database driver and router (0.7 s per command): `@baton/control/client`.
 */
export { describeScheduled } from "./flags/describe-scheduled.js";
export { formatDuration } from "./format-duration.js";
