// Asks Dawn (the `webgpu` package) for an adapter and a device, and prints one JSON line:
// {"adapter":{vendor, architecture, device, description, f16}} or {"error":"..."}. Run in a child
// process by scripts/webgpu-env.mjs with the environment under test: Dawn reads VK_ICD_FILENAMES and
// LD_LIBRARY_PATH when it loads, so each environment needs a fresh process.

let gpu;
try {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  gpu = create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    console.log(JSON.stringify({ error: 'requestAdapter returned null' }));
  } else {
    const i = adapter.info; // getters: copy them out
    const device = await adapter.requestDevice();
    device.destroy();
    const f16 = adapter.features.has('shader-f16');
    console.log(JSON.stringify({ adapter: { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, f16 } }));
  }
} catch (e) {
  console.log(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
}
gpu = undefined; // Dawn keeps the process alive while its instance is referenced
