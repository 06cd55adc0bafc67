/** What the engine refuses or fails at, with a stable `code` and a message naming what and where. */
export class EngineError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "EngineError";
  }
}
