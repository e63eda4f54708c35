// Compiles the AssemblyScript kernels (src/kernels/wasm/kernels.ts) into two builds:
// dist/src/kernels/wasm/kernels-simd.wasm (SIMD128) and kernels-fma.wasm (+ relaxed SIMD).
// Both import a shared memory `env.memory` (max 4 GiB) managed from JavaScript.
import { main } from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';

const outDir = 'dist/src/kernels/wasm';
mkdirSync(outDir, { recursive: true });
const common = [
  'src/kernels/wasm/kernels.ts', '-O3', '--runtime', 'stub', '--noAssert', '--use', 'abort=',
  '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
];
const builds = [
  ['simd', ['--enable', 'simd,threads']],
  ['fma', ['--enable', 'simd,threads,relaxed-simd']],
];
for (const [name, flags] of builds) {
  const { error, stderr } = await main([...common, ...flags, '-o', `${outDir}/kernels-${name}.wasm`]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build:wasm failed for ${name}: ${error.message}`);
    process.exit(1);
  }
}
console.log(`build:wasm: wrote ${builds.map(([n]) => `${outDir}/kernels-${n}.wasm`).join(', ')}`);
