// @baton/runtime: the public surface. Each part is usable alone.
export {};
