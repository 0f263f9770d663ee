import t from 'tap'
import { cpSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { readManifest } from '../../src/manifest/compile-manifest.js'
import { readManifestOffThread } from '../../src/manifest/read-manifest-off-thread.js'
import { REPO } from '../helpers/serve.js'

// readManifestOffThread must answer exactly as readManifest does, only off the event loop.
t.test('readManifestOffThread gives readManifest\'s answers: compiled manifests, problem lines, unreadable files', async t => {
  const dir = t.testdir({
    'broken.yaml': 'version: 1\npayloads:\n  - name: broken\n    pathz: [/x]\n  - name: bad-pattern\n    paths: ["/a/**b"]\n    content: { blob: x }\n',
    'not-yaml.yaml': 'version: 1\npayloads: [\n',
  })
  const rows: ReadonlyArray<readonly [string, string]> = [
    ['the README example (every field)', `${REPO}fixtures/manifests/example.yaml`],
    ['the every-feature fixture', `${REPO}fixtures/manifests/every-feature.yaml`],
    ['problems of the schema and a pattern', join(dir, 'broken.yaml')],
    ['a YAML syntax error', join(dir, 'not-yaml.yaml')],
    ['a file that does not exist', join(dir, 'missing.yaml')],
  ]
  for (const [name, file] of rows) {
    const inline = await readManifest(file)
    const off = await readManifestOffThread(file)
    t.equal(off.ok, inline.ok, `${name}: ok is ${inline.ok}`)
    if (inline.ok && off.ok) {
      t.equal(off.compiled.hash, inline.compiled.hash, `${name}: the same hash`)
      t.equal(off.compiled.file, file)
      t.strictSame(off.compiled.manifest, inline.compiled.manifest, `${name}: the same payloads`)
      t.equal(off.compiled.table.size, inline.compiled.table.size, `${name}: the same route table`)
      for (const p of inline.compiled.manifest.payloads.flatMap(p => p.paths)) {
        const probe = p.replace(/:[A-Za-z_]+/g, 'v').replace(/\*+/g, 'x')
        t.equal(off.compiled.table.match(probe)?.entry.payload, inline.compiled.table.match(probe)?.entry.payload, `${name}: ${probe} routes alike`)
      }
    } else if (!inline.ok && !off.ok) {
      t.strictSame(off.lines, inline.lines, `${name}: the same problem lines`)
      t.ok(off.lines.length > 0)
    }
  }
})

t.test('readManifestOffThread: a manifest the worker chokes on is a problem line, never a rejection', async t => {
  const dir = t.testdir({})
  const file = join(dir, 'huge-alias.yaml')
  // An alias bomb: the loader refuses it (maxAliasCount), in the worker as in line.
  writeFileSync(file, `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n`)
  const inline = await readManifest(file)
  const off = await readManifestOffThread(file)
  t.equal(off.ok, false)
  t.strictSame(off.ok ? [] : off.lines, inline.ok ? [] : inline.lines)
})

t.test('readManifestOffThread: a schema that cannot be read is named, not blamed on the manifest', async t => {
  // A build copied away from the repository's schema/ folder (as an incomplete installation is):
  // serve once said "cannot read the manifest (ENOENT)" of a manifest that was there.
  const dir = t.testdir({})
  cpSync(join(REPO, 'dist', 'src'), join(dir, 'dist', 'src'), { recursive: true })
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'))
  const copy = (await import(pathToFileURL(join(dir, 'dist', 'src', 'manifest', 'read-manifest-off-thread.js')).href)) as {
    readManifestOffThread: typeof readManifestOffThread
  }
  const file = `${REPO}fixtures/manifests/example.yaml`
  const off = await copy.readManifestOffThread(file)
  t.equal(off.ok, false, 'not loaded')
  const lines = off.ok ? [] : off.lines
  t.equal(lines.length, 1)
  t.match(lines[0], `${file}: cannot check the manifest: `, 'the manifest is named as the one that could not be checked')
  t.match(lines[0], join(dir, 'schema', 'manifest.schema.json'), 'and the schema file that is missing')
  t.notMatch(lines[0], 'cannot read the manifest')
  t.ok((await readManifestOffThread(file)).ok, 'the same manifest loads with the schema in place')
})
