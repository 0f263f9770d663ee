import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { compileManifest } from '../../src/manifest/compile-manifest.js'

/** The part of bench/lib/s3.mjs (plain ESM, no types) these tests use. */
interface S3Lib {
  metricSum(port: number, name: string): Promise<number>
  s3Manifest(): { version: number; payloads: Array<{ content: { blob: string } }> }
  S3_BLOBS: string[]
}

// dist/test/bench/s3.js -> the repository root is three levels up.
const s3 = (await import(new URL('../../../bench/lib/s3.mjs', import.meta.url).href)) as S3Lib

/** A /metrics page as prom-client writes it: HELP and TYPE lines, labelled and unlabelled series. */
const METRICS = [
  '# HELP cutover_store_reads_total Reads asked of the store.',
  '# TYPE cutover_store_reads_total counter',
  'cutover_store_reads_total{store="s3"} 32',
  'cutover_store_reads_total{store="http",kind="a b"} 5',
  'cutover_store_reads_total_extra 100',
  'cutover_serve_chunk_loads_total 128',
  'cutover_serve_chunk_bytes 1.5e3',
  '',
].join('\n')

t.test('metricSum sums every series of exactly that name, whatever its labels', async t => {
  const server = createServer((req, res) => {
    res.setHeader('Content-Type', 'text/plain; version=0.0.4')
    res.end(req.url === '/metrics' ? METRICS : '')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const { port } = server.address() as AddressInfo
  const rows: Array<[string, number]> = [
    ['cutover_store_reads_total', 37], // 32 + 5, not the _extra series
    ['cutover_serve_chunk_loads_total', 128],
    ['cutover_serve_chunk_bytes', 1500],
    ['cutover_missing_total', 0],
  ]
  for (const [name, want] of rows) t.equal(await s3.metricSum(port, name), want, name)
})

t.test('the manifest of the s3 column compiles and routes each bench file to the blob of its name', async t => {
  const m = s3.s3Manifest()
  const r = compileManifest(JSON.stringify(m), 'manifest-s3.json')
  if (!r.ok) {
    t.fail(`manifest problems: ${JSON.stringify(r.problems)}`)
    return
  }
  t.equal(s3.S3_BLOBS.length, 4, 'small.json, 1m.bin, 64m.bin, 256m.bin')
  for (const blob of s3.S3_BLOBS) {
    const hit = r.compiled.table.match(`/${blob}`)
    t.equal(hit === undefined ? undefined : m.payloads[hit.entry.payload]?.content.blob, blob, `/${blob} -> ${blob}`)
  }
  t.equal(r.compiled.table.match('/other.bin'), undefined, 'nothing else is served')
})
