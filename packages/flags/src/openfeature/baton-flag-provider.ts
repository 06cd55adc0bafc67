import {
  ErrorCode,
  type EvaluationContext,
  type JsonValue,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  type ResolutionDetails,
  StandardResolutionReasons,
} from "@openfeature/server-sdk";
import { createFlagClient, type FlagClient, type FlagClientOptions } from "../client/create-flag-client.js";
import { toFlagContext } from "./to-flag-context.js";

type Resolution<T> = ResolutionDetails<T>;

const error = <T>(value: T, errorCode: ErrorCode, errorMessage: string): Resolution<T> => ({
  value,
  reason: StandardResolutionReasons.ERROR,
  errorCode,
  errorMessage,
});

/**
 * An OpenFeature server provider answering from a Baton flag client (evaluations are counted in its
 * metrics). Booleans are the flag itself; strings, numbers and objects are the payload of the flag's
 * variant, whose type must match (`string`/`csv`, `number`, `json`). Reasons: DISABLED for a flag
 * that is off, TARGETING_MATCH for a flag on for the context, SPLIT for a value chosen by a variant,
 * DEFAULT when the flag is on but does not apply to the context (or has no variant payload), ERROR with
 * FLAG_NOT_FOUND, TYPE_MISMATCH or PARSE_ERROR. `targetingKey` is Unleash's `userId`.
 */
export class BatonFlagProvider implements Provider {
  readonly metadata = { name: "baton" } as const;
  readonly runsOn = "server" as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly client: FlagClient;
  readonly #owned: boolean;
  readonly #unsubscribe: () => void;

  /** Takes a client (closed by its owner) or the options to create one (closed with the provider). */
  constructor(client: FlagClient | FlagClientOptions) {
    this.#owned = !("isEnabled" in client);
    this.client = "isEnabled" in client ? client : createFlagClient(client);
    this.#unsubscribe = this.client.on("changed", (flagsChanged) =>
      this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged }),
    );
  }

  /** OpenFeature waits for this: the client's first state. */
  async initialize(): Promise<void> {
    await this.client.ready();
  }

  async onClose(): Promise<void> {
    this.#unsubscribe();
    if (this.#owned) await this.client.close();
  }

  async resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: EvaluationContext,
  ): Promise<Resolution<boolean>> {
    const flag = this.client.getFlag(flagKey);
    if (!flag) return error(defaultValue, ErrorCode.FLAG_NOT_FOUND, `no flag ${flagKey}`);
    const value = this.client.isEnabled(flagKey, toFlagContext(context));
    if (!flag.enabled) return { value, reason: StandardResolutionReasons.DISABLED };
    return {
      value,
      reason: value ? StandardResolutionReasons.TARGETING_MATCH : StandardResolutionReasons.DEFAULT,
    };
  }

  async resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    context: EvaluationContext,
  ): Promise<Resolution<string>> {
    return this.#fromPayload<string>(flagKey, defaultValue, context, "string", (type, text) =>
      type === "string" || type === "csv" ? { value: text } : undefined,
    );
  }

  async resolveNumberEvaluation(
    flagKey: string,
    defaultValue: number,
    context: EvaluationContext,
  ): Promise<Resolution<number>> {
    return this.#fromPayload<number>(flagKey, defaultValue, context, "number", (type, text) => {
      if (type !== "number") return undefined;
      const value = Number(text);
      return text.trim() !== "" && Number.isFinite(value)
        ? { value }
        : { parseError: `not a number: ${text}` };
    });
  }

  async resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
  ): Promise<Resolution<T>> {
    return this.#fromPayload<T>(flagKey, defaultValue, context, "object", (type, text) => {
      if (type !== "json") return undefined;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (cause) {
        return { parseError: `payload is not JSON: ${(cause as Error).message}` };
      }
      // OpenFeature's object flags are structures; a JSON scalar asked for as an object is a mismatch.
      return typeof value === "object" && value !== null ? { value: value as T } : undefined;
    });
  }

  /** A value from the variant's payload; `convert` answers undefined for a payload of another type. */
  #fromPayload<T>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
    wanted: string,
    convert: (type: string, text: string) => { value: T } | { parseError: string } | undefined,
  ): Resolution<T> {
    const flag = this.client.getFlag(flagKey);
    if (!flag) return error(defaultValue, ErrorCode.FLAG_NOT_FOUND, `no flag ${flagKey}`);
    const variant = this.client.getVariant(flagKey, toFlagContext(context));
    if (!flag.enabled) return { value: defaultValue, reason: StandardResolutionReasons.DISABLED };
    if (!variant.enabled || !variant.payload)
      return { value: defaultValue, reason: StandardResolutionReasons.DEFAULT };
    const converted = convert(variant.payload.type, variant.payload.value);
    if (!converted) {
      const message = `variant ${variant.name} of ${flagKey} has a ${variant.payload.type} payload, not a ${wanted}`;
      return error(defaultValue, ErrorCode.TYPE_MISMATCH, message);
    }
    if ("parseError" in converted) return error(defaultValue, ErrorCode.PARSE_ERROR, converted.parseError);
    return { value: converted.value, variant: variant.name, reason: StandardResolutionReasons.SPLIT };
  }
}
