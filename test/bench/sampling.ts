import os from 'node:os'
import t from 'tap'

/** bench/lib/sampling.mjs (plain ESM, no types): what the harness reads from /proc. */
const { processorOf } = (await import(new URL('../../../bench/lib/sampling.mjs', import.meta.url).href)) as {
  processorOf: (pid: number | string) => number | null
}

t.test('processorOf names a core of this machine for a live process and null for a gone one', async t => {
  const c = processorOf(process.pid)
  t.ok(Number.isInteger(c) && c! >= 0 && c! < os.cpus().length, `core ${c} of ${os.cpus().length}`)
  t.equal(processorOf(2 ** 22 + 1), null, 'no such process (above the largest pid Linux gives, 2^22)')
})
