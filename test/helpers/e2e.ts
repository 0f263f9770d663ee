import { execFile, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs'
import { connect } from 'node:net'

/** sha256 of a buffer, hex. */
export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

/** sha256File hashes a whole file, hex. */
export function sha256File(path: string): string {
  return sha256(readFileSync(path))
}

/**
 * prngBytes returns `n` deterministic pseudo-random bytes from `seed` (xorshift32), so that test
 * content is reproducible from run to run.
 */
export function prngBytes(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n)
  let x = seed >>> 0 || 0x9e3779b9
  let i = 0
  for (; i + 4 <= n; i += 4) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out.writeUInt32LE(x, i)
  }
  for (; i < n; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

/**
 * writeLargeFile writes `mib` MiB to `path` quickly: one pseudo-random 1 MiB block repeated, with
 * the block index stamped in its first 8 bytes so that no two blocks are equal (a misplaced segment
 * changes the hash). Returns the sha256 of what was written.
 */
export function writeLargeFile(path: string, mib: number, seed = 1): string {
  const block = prngBytes(1024 * 1024, seed)
  const h = createHash('sha256')
  const fd = openSync(path, 'w')
  try {
    for (let i = 0; i < mib; i++) {
      block.writeBigUInt64BE(BigInt(i), 0)
      h.update(block)
      let off = 0
      while (off < block.length) off += writeSync(fd, block, off, block.length - off)
    }
  } finally {
    closeSync(fd)
  }
  return h.digest('hex')
}

/** RunResult is what a finished child process left. */
export interface RunResult {
  code: number | string
  stdout: string
  stderr: string
}

/**
 * run executes a command with a bounded timeout (the child is killed when it runs out) and never
 * throws for a non-zero exit: the caller checks `code`.
 */
export function run(
  cmd: string,
  args: readonly string[],
  o: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: Buffer } = {},
): Promise<RunResult> {
  return new Promise(resolve => {
    const child: ChildProcess = execFile(
      cmd,
      args,
      {
        cwd: o.cwd,
        timeout: o.timeoutMs ?? 30_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        env: o.env ?? process.env,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        let code: number | string = 0
        if (err) {
          const e = err as NodeJS.ErrnoException & { code?: number | string; signal?: string; killed?: boolean }
          code = e.killed ? `killed (timeout ${o.timeoutMs ?? 30_000} ms)` : (e.signal ?? e.code ?? 'error')
        }
        resolve({ code, stdout, stderr })
      },
    )
    if (o.input) {
      child.stdin!.on('error', () => undefined) // a child that exits early: its status tells
      child.stdin!.end(o.input)
    }
  })
}

/** RawResponse is an HTTP/1.1 response as it came off the wire. */
export interface RawResponse {
  status: number
  statusLine: string
  /** Header fields in wire order, names as sent. */
  headers: [string, string][]
  body: Buffer
}

/** header returns the first value of a header (case-insensitive name), or undefined. */
export function header(r: RawResponse, name: string): string | undefined {
  const lower = name.toLowerCase()
  return r.headers.find(([k]) => k.toLowerCase() === lower)?.[1]
}

/**
 * rawRequest sends `method target` over a fresh TCP connection to `base` (http://127.0.0.1:port)
 * byte for byte, with `Connection: close`, and reads the whole response until the server closes.
 * The target is not normalised in any way (`/../x` goes out as is). Bounded by `timeoutMs`.
 */
export function rawRequest(
  base: string,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<RawResponse> {
  const u = new URL(base)
  let head = `${method} ${target} HTTP/1.1\r\nHost: ${u.host}\r\n`
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
  head += 'Connection: close\r\n\r\n'
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname)
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error(`rawRequest ${method} ${target}: no complete response in ${timeoutMs} ms`))
    }, timeoutMs)
    sock.on('data', (d: Buffer) => chunks.push(d))
    sock.on('error', err => {
      clearTimeout(timer)
      reject(err)
    })
    sock.on('end', () => {
      clearTimeout(timer)
      sock.destroy()
      try {
        resolve(parseResponse(Buffer.concat(chunks)))
      } catch (err) {
        reject(err)
      }
    })
    sock.write(head, 'latin1')
  })
}

/** parseResponse splits one raw HTTP/1.1 response (read until close) into status, headers, body. */
export function parseResponse(raw: Buffer): RawResponse {
  const end = raw.indexOf('\r\n\r\n')
  if (end < 0) throw new Error(`no header block in response: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`)
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n')
  const statusLine = lines.shift() ?? ''
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)
  if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`)
  const headers: [string, string][] = lines.map(l => {
    const i = l.indexOf(':')
    return [l.slice(0, i), l.slice(i + 1).trim()]
  })
  return { status: Number(m[1]), statusLine, headers, body: raw.subarray(end + 4) }
}

/** readJsonl parses a JSONL file into records (blank lines skipped). */
export function readJsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(l => l.trim() !== '')
    .map(l => JSON.parse(l) as Record<string, unknown>)
}

/**
 * withTimeout rejects with `what` when `p` has not settled within `ms`, so that no wait in a test is
 * unbounded.
 */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * waitForOutput resolves once `output()` matches `re`, checking whenever the child writes to
 * stdout or stderr; rejects after `ms` or if the child exits first.
 */
export function waitForOutput(child: ChildProcess, output: () => string, re: RegExp, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (re.test(output())) {
        done()
        resolve()
      }
    }
    const onExit = (): void => {
      // The exit may come with the last output still queued: check once more.
      setImmediate(() => {
        if (re.test(output())) resolve()
        else reject(new Error(`child exited before printing ${re}: ${output()}`))
        done()
      })
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`no ${re} in ${ms} ms: ${output()}`))
    }, ms)
    const done = (): void => {
      clearTimeout(timer)
      child.stdout?.off('data', check)
      child.stderr?.off('data', check)
      child.off('exit', onExit)
    }
    child.stdout?.on('data', check)
    child.stderr?.on('data', check)
    child.on('exit', onExit)
    // Listeners added after the helper's own ones see the data once output() has it.
    check()
  })
}
