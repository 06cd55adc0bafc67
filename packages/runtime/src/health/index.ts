// The health part of @baton/runtime: its public exports only.
export {};
