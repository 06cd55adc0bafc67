import type { ApiTarget } from "../up/api-client.js";

export interface GuardedRolloutOptions {
  steps?: string;
  pause?: string;
  abort?: boolean;
  wait?: boolean;
  json?: boolean;
}

/**
 * `baton flags rollout NAME --steps 5,25,50,100 --pause 30s`: starts a guarded rollout and follows
 * it; `--abort` stops one. Exits 1 when the rollout was turned back.
 */
export async function guardedRolloutCommand(
  _api: ApiTarget,
  _name: string,
  _o: GuardedRolloutOptions,
): Promise<void> {
  throw new Error("guarded rollouts: not built yet");
}
