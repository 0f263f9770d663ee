import { execFile } from 'node:child_process'
import { closeSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

const MiB = 1024 * 1024
const TOTAL = 200 * MiB
const HELPER = fileURLToPath(new URL('../helpers/read-records-rss.js', import.meta.url))

/**
 * writeLog writes a combined log of about `bytes` bytes, 1 MiB at a time (so that writing it does
 * not hold it in memory either), with a bad line every 1000 lines. Returns the line counts.
 */
function writeLog(path: string, bytes: number): { records: number; bad: number } {
  const fd = openSync(path, 'w')
  let records = 0
  let bad = 0
  let written = 0
  let i = 0
  try {
    while (written < bytes) {
      const lines: string[] = []
      let size = 0
      while (size < MiB) {
        i++
        const ip = `192.0.2.${i % 250}`
        const sec = String(i % 60).padStart(2, '0')
        const l =
          i % 1000 === 0
            ? `${ip} - - [10/Oct/2025:13:55:${sec} +0000] "\\x16\\x03\\x01" 400 157 "-" "-" "-"\n`
            : `${ip} - - [10/Oct/2025:13:55:${sec} +0000] "GET /f/${i % 5000}/nums11.txt?i=${i} HTTP/1.1" ` +
              `206 5 "-" "aria2/1.36.0" "bytes=${i % 11}-"\n`
        if (i % 1000 === 0) bad++
        else records++
        lines.push(l)
        size += l.length
      }
      written += writeSync(fd, lines.join(''))
    }
  } finally {
    closeSync(fd)
  }
  return { records, bad }
}

t.test('readRecords reads a 200 MB log in constant memory', async t => {
  const dir = t.testdir({})
  const path = join(dir, 'big.log')
  const want = writeLog(path, TOTAL)

  const { stdout } = await promisify(execFile)(process.execPath, [HELPER, '10000', path], {
    maxBuffer: 16 * MiB,
  })
  const got = JSON.parse(stdout) as { records: number; bad: number; rss: number[] }
  t.strictSame({ records: got.records, bad: got.bad }, want, `all ${want.records + want.bad} lines are read`)

  // The baseline is the highest RSS of the first 10% of the file, once the reader is warm (JIT,
  // V8's young generation and the stream buffers at their working size); growth is how far the rest
  // goes above it. Memory that grows with the file's size would show here; GC noise stays under it.
  const warm = Math.ceil(got.rss.length / 10)
  const base = Math.max(...got.rss.slice(0, warm))
  const peak = Math.max(...got.rss.slice(warm))
  const growth = (peak - base) / MiB
  t.ok(got.rss.length > 100, `${got.rss.length} samples`)
  t.ok(growth < 30, `RSS grows by ${growth.toFixed(1)} MiB over the last 90% of the file (< 30 MiB)`)
})
