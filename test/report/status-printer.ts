import t from 'tap'
import { pino } from 'pino'
import { logLines } from '../../src/report/log-line.js'
import { StatusPrinter, type PrinterStream } from '../../src/report/status-printer.js'

/** Recorder is a stream that keeps every write, as the bytes a terminal or a pipe would get. */
class Recorder implements PrinterStream {
  readonly writes: string[] = []
  constructor(
    readonly isTTY?: boolean,
    readonly columns?: number,
  ) {}
  write(text: string): boolean {
    this.writes.push(text)
    return true
  }
}

type Op = ['status' | 'log' | 'print', string] | ['clear' | 'keep']

const apply = (p: StatusPrinter, ops: readonly Op[]): void => {
  for (const op of ops) {
    if (op.length === 1) p[op[0]]()
    else p[op[0]](op[1])
  }
}

t.test('StatusPrinter writes exactly these bytes, on a terminal and not', async t => {
  const cases: Array<{ title: string; tty: boolean; columns?: number; ops: Op[]; err: string[]; out: string[] }> = [
    {
      title: 'not a terminal: no status line at all, messages as given, a newline added',
      tty: false,
      ops: [['status', 'requests 1'], ['log', 'warn: x'], ['status', 'requests 2'], ['print', 'summary\n'], ['clear'], ['keep']],
      err: ['warn: x\n'],
      out: ['summary\n'],
    },
    { title: 'a terminal: the status line drawn in place', tty: true, ops: [['status', 'a'], ['status', 'bb']], err: ['\ra\x1b[K', '\rbb\x1b[K'], out: [] },
    {
      title: 'a warning while the status line is drawn: erase, the line, redraw, in one write',
      tty: true,
      ops: [['status', 'requests 1'], ['log', 'cutover mirror: warn: primary failed']],
      err: ['\rrequests 1\x1b[K', '\r\x1b[Kcutover mirror: warn: primary failed\n\rrequests 1\x1b[K'],
      out: [],
    },
    {
      title: 'a line to stdout while the status line is drawn on stderr: erased first, redrawn after',
      tty: true,
      ops: [['status', 's'], ['print', 'cutover mirror: SIGINT: draining']],
      err: ['\rs\x1b[K', '\r\x1b[K', '\rs\x1b[K'],
      out: ['cutover mirror: SIGINT: draining\n'],
    },
    { title: 'a warning with no status line drawn: just the line', tty: true, ops: [['log', 'w\n']], err: ['w\n'], out: [] },
    {
      title: 'the summary after clear: the status line erased, then nothing drawn over the summary',
      tty: true,
      ops: [['status', 'a'], ['print', 'stop'], ['status', 'b'], ['clear'], ['print', 'summary\n'], ['clear']],
      err: ['\ra\x1b[K', '\r\x1b[K', '\ra\x1b[K', '\rb\x1b[K', '\r\x1b[K'],
      out: ['stop\n', 'summary\n'],
    },
    { title: 'clear with nothing drawn writes nothing', tty: true, ops: [['clear'], ['keep']], err: [], out: [] },
    {
      title: 'keep leaves the last status as a line and moves below it',
      tty: true,
      ops: [['status', '100%'], ['keep'], ['log', 'w'], ['print', 'summary']],
      err: ['\r100%\x1b[K', '\n', 'w\n'],
      out: ['summary\n'],
    },
    { title: 'cut to the width less one column, so that it never wraps', tty: true, columns: 5, ops: [['status', 'abcdefgh'], ['status', 'abc']], err: ['\rabcd\x1b[K', '\rabc\x1b[K'], out: [] },
    { title: 'wide characters count as one each', tty: true, columns: 4, ops: [['status', '███░░']], err: ['\r███\x1b[K'], out: [] },
    {
      title: 'control characters in the status are escaped: it stays one line and drives nothing',
      tty: true,
      ops: [['status', 'x\x1b[2Jy\nz\u202e']],
      err: ['\rx\\x1b[2Jy\\x0az\\u202e\x1b[K'],
      out: [],
    },
  ]
  for (const c of cases) {
    const err = new Recorder(c.tty, c.columns)
    const out = new Recorder(false)
    apply(new StatusPrinter({ err, out }), c.ops)
    t.strictSame({ err: err.writes, out: out.writes }, { err: c.err, out: c.out }, c.title)
    if (!c.tty) t.notOk(/[\x1b\r]/.test([...err.writes, ...out.writes].join('')), `${c.title}: no ESC and no CR byte`)
  }
})

t.test('StatusPrinter: one stream for both, the tty option, and bad options', async t => {
  const one = new Recorder(true)
  const p = new StatusPrinter({ err: one })
  p.status('s')
  p.print('summary')
  t.strictSame(one.writes, ['\rs\x1b[K', '\r\x1b[Ksummary\n\rs\x1b[K'], 'out defaults to err: one write')
  const cases: Array<[string, boolean | undefined, boolean | undefined, boolean]> = [
    ['isTTY true', true, undefined, true],
    ['isTTY unset', undefined, undefined, false],
    ['isTTY false', false, undefined, false],
    ['tty: false wins over isTTY', true, false, false],
    ['tty: true wins over isTTY', false, true, true],
  ]
  for (const [title, isTTY, tty, want] of cases) t.equal(new StatusPrinter({ err: new Recorder(isTTY), ...(tty === undefined ? {} : { tty }) }).tty, want, title)
  t.throws(() => new StatusPrinter({ err: {} as PrinterStream }), TypeError)
  t.throws(() => new StatusPrinter({ err: new Recorder(), out: {} as PrinterStream }), TypeError)
})

t.test("pino through logLines and the printer: a readable line, never glued to the status line", async t => {
  const err = new Recorder(true)
  const printer = new StatusPrinter({ err })
  const logger = pino({ name: 'cutover', base: undefined }, logLines(line => printer.log(line), 'cutover mirror'))
  printer.status('requests 1  compared 0')
  logger.warn({ err: new Error('connect ECONNREFUSED 127.0.0.1:1'), path: '/f', primary: 'old' }, 'primary failed')
  t.strictSame(err.writes, [
    '\rrequests 1  compared 0\x1b[K',
    '\r\x1b[Kcutover mirror: warn: primary failed (err="connect ECONNREFUSED 127.0.0.1:1", path=/f, primary=old)\n\rrequests 1  compared 0\x1b[K',
  ])
})
