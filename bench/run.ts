/**
 * Benchmark runner: `npm run bench [-- --filter NAME]` imports every bench module beside this
 * file and runs it; each prints one JSON object per line.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const fi = args.indexOf('--filter');
const filter = fi >= 0 ? args[fi + 1] : undefined;

const modules = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js')
  .sort();
for (const f of modules) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { run?: (filter?: string) => Promise<void> };
  if (typeof mod.run !== 'function') continue;
  await mod.run(filter);
}
