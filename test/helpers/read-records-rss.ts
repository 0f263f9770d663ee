// A child process for test/replay/read-records-memory.ts: reads the logs named on the command line
// with readRecords and prints, as one JSON line, the counts and the process RSS sampled every
// `every` lines. It runs outside tap so that the measure is of the reader alone, as in
// `cutover replay`: tap's async hooks track every promise and add their own memory and noise.
import { readRecords } from '../../src/replay/read-records.js'

const [every, ...paths] = process.argv.slice(2)
const step = Number(every)
let records = 0
let bad = 0
const rss: number[] = []
for await (const p of readRecords(paths, { format: 'auto' })) {
  if (p.kind === 'record') records++
  else bad++
  if ((records + bad) % step === 0) rss.push(process.memoryUsage.rss())
}
process.stdout.write(`${JSON.stringify({ records, bad, rss })}\n`)
