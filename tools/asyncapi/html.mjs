// Renders docs/asyncapi.yaml to HTML (make contract-html) with @asyncapi/generator and the
// @asyncapi/html-template installed beside it by `npm ci`: the template is given as a
// local directory, so nothing is fetched while rendering.
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const Generator = require('@asyncapi/generator');
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const docPath = process.argv[2] ?? join(repo, 'docs', 'asyncapi.yaml');
const outDir = resolve(process.argv[3] ?? join(repo, '.local', 'contract-html'));
const template = dirname(require.resolve('@asyncapi/html-template/package.json'));

const generator = new Generator(template, outDir, {
  forceWrite: true,
  install: false,
  templateParams: { singleFile: 'true', outFilename: 'index.html' },
});
await generator.generateFromFile(docPath);
console.log(`asyncapi: ${docPath} rendered to ${join(outDir, 'index.html')}`);
