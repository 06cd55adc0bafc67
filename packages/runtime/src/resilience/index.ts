// The resilience part of @baton/runtime: its public exports only.
export {};
