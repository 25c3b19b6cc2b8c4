// Bundles the app into dist/: app.js (+ app.js.map), app.css and index.html.
// index.html references /app/assets/app.js and /app/assets/app.css; the broker
// rewrites those two strings to hashed names when it serves the page.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: [join(root, 'src/main.ts')],
  outfile: join(dist, 'app.js'),
  bundle: true,
  minify: true,
  // 'external': write app.js.map without a sourceMappingURL comment, so a renamed app.js asks for nothing.
  sourcemap: 'external',
  target: 'es2020',
  format: 'iife',
  platform: 'browser',
  legalComments: 'eof',
  logLevel: 'info',
});
await copyFile(join(root, 'src/app.css'), join(dist, 'app.css'));
await copyFile(join(root, 'src/index.html'), join(dist, 'index.html'));
console.log('dist/: app.js, app.js.map, app.css, index.html');
