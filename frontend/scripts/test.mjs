// Bundles src/*.test.ts as ESM for node into a temporary folder, runs them
// with `node --test`, and removes the folder.
import { build } from 'esbuild';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const tests = (await readdir(src)).filter((f) => f.endsWith('.test.ts')).sort();
if (tests.length === 0) {
  console.error('no src/*.test.ts found');
  process.exit(1);
}
const out = await mkdtemp(join(tmpdir(), 'saml-broker-frontend-test-'));
let status = 1;
try {
  await build({
    entryPoints: tests.map((f) => join(src, f)),
    outdir: out,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  const files = tests.map((f) => join(out, f.replace(/\.ts$/, '.mjs')));
  const r = spawnSync(process.execPath, ['--enable-source-maps', '--test', ...files], { stdio: 'inherit' });
  status = r.status ?? 1;
} finally {
  await rm(out, { recursive: true, force: true });
}
process.exit(status);
