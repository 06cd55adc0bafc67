// The metrics part of @baton/runtime: its public exports only.
export {};
