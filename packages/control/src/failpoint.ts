/**
 * Crash points for the crash tests: `BATON_FAILPOINT=<version>:<point>[,...]` makes this process
 * SIGKILL itself right after it reaches `<point>` for `<version>` (a state transition just
 * committed, an instance just spawned). Unset, it costs one string lookup.
 */
export function failpoint(version: string, point: string): void {
  const spec = process.env.BATON_FAILPOINT;
  if (!spec) return;
  if (spec.split(",").includes(`${version}:${point}`)) process.kill(process.pid, "SIGKILL");
}
