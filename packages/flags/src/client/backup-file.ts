import { readFileSync } from "node:fs";
import { rename, unlink, writeFile } from "node:fs/promises";
import type { FlagState } from "../flag-schema.js";
import { parseFlagState } from "../parse-flags.js";

/**
 * The last state the server gave, kept on disk so that an application restarted while the server is
 * down starts from it. Read once, synchronously, when the client is created (a small file, before the
 * first request is served); written atomically (a temporary file renamed over it), so that a crash
 * mid-write leaves the previous backup, never half of one. Writes are queued and coalesced: only the
 * newest state waiting is written.
 */
export class BackupFile {
  #writing: Promise<void> | undefined;
  #next: FlagState | undefined;
  #sequence = 0;

  constructor(
    readonly path: string,
    private readonly onError: (error: Error) => void,
  ) {}

  /** The backed-up state; undefined when there is none, or (reported) when it does not validate. */
  read(): FlagState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") this.onError(error as Error);
      return undefined;
    }
    try {
      return parseFlagState(JSON.parse(text));
    } catch (error) {
      this.onError(new Error(`backup file ${this.path} refused: ${(error as Error).message}`));
      return undefined;
    }
  }

  write(state: FlagState): void {
    this.#next = state;
    this.#writing ??= this.#drain();
  }

  /** Resolves once every queued write is on disk (or failed and was reported). */
  async flushed(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#next) {
        const state = this.#next;
        this.#next = undefined;
        await this.#writeNow(state);
      }
    } finally {
      this.#writing = undefined;
    }
  }

  async #writeNow(state: FlagState): Promise<void> {
    const temporary = `${this.path}.${process.pid}.${++this.#sequence}.tmp`;
    try {
      await writeFile(temporary, JSON.stringify(state));
      await rename(temporary, this.path);
    } catch (error) {
      this.onError(new Error(`backup file ${this.path} not written: ${(error as Error).message}`));
      await unlink(temporary).catch(() => {});
    }
  }
}
