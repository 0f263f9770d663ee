import t from 'tap'
import { spawn } from 'node:child_process'
import { CLI, REPO } from '../helpers/serve.js'
import { withTimeout } from '../helpers/e2e.js'

const EXAMPLE = `${REPO}fixtures/manifests/example.yaml`

/**
 * runClosed runs the CLI with a stdout pipe whose reading end is closed before the child starts, as
 * `cutover ... | head -1` ends once head has its line: every write the child makes meets EPIPE.
 */
async function runClosed(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.destroy()
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  const code = await withTimeout(
    new Promise<number | null>(resolve => child.on('close', c => resolve(c))),
    20_000,
    `cutover ${args.join(' ')} to exit`,
  )
  return { code, stderr }
}

// Each row: the command, and the exit status it has whether or not anyone reads its output.
const rows: ReadonlyArray<readonly [string, readonly string[], number]> = [
  ['manifest check (summary)', ['manifest', 'check', EXAMPLE], 0],
  ['manifest resolve (denied: exit 1)', ['manifest', 'resolve', EXAMPLE, '/installer/latest.bin', '--ip', '192.0.2.1'], 1],
  ['manifest resolve (served)', ['manifest', 'resolve', EXAMPLE, '/installer/latest.bin', '--ip', '127.0.0.1'], 0],
  ['--help', ['--help'], 0],
]

t.test('a reader that closes the pipe early ends the output, not the command: no stack trace, its own exit status', async t => {
  for (const [name, args, want] of rows) {
    const { code, stderr } = await runClosed(args)
    t.equal(code, want, `${name}: exit ${want}`)
    t.equal(stderr, '', `${name}: nothing on stderr`)
  }
})
