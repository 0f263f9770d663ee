import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { appendFileSync, mkdirSync } from 'node:fs'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { DownloadServer } from '../../src/server/server.js'
import { DirectoryResolver, type DirectoryResolverOptions } from '../../src/payload/directory-resolver.js'
import { FileStore, type FileStoreOptions } from '../../src/storage/file-store.js'
import type { AccessLog } from '../../src/telemetry/access-log.js'

/** Minimal view of a tap Test that the helpers need. */
export interface T {
  teardown(fn: () => unknown): void
  // tap's own overloads are wider; these are the calls the helpers make.
  skip(...args: any[]): unknown
  fail(...args: any[]): unknown
}

/** REPO is the repository root (this file runs from dist/test/helpers). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url))
/** CLI is the launcher of the built command line. */
export const CLI = `${REPO}bin/cutover`

/** The one line that installs every system tool the end-to-end tests use. */
export const APT_LINE = 'apt-get install -y nginx apache2 curl wget aria2 unzip python3 golang-go chromium openssl logrotate libmaxmind-db-writer-perl mmdb-bin'

/**
 * hasTool tells whether a system tool is on PATH. When it is missing the caller should skip with
 * {@link requireTool}, which fails instead when CUTOVER_REQUIRE_TOOLS=1 (as .ci/run sets).
 */
export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0
}

/**
 * requireTool returns true when `name` is installed. Otherwise it skips the test saying which tool
 * is missing and the apt-get line that installs it, or fails under CUTOVER_REQUIRE_TOOLS=1.
 */
export function requireTool(t: T, name: string): boolean {
  if (hasTool(name)) return true
  const msg = `${name} is not installed; run: ${APT_LINE}`
  if (process.env.CUTOVER_REQUIRE_TOOLS === '1') {
    t.fail(msg)
    return false
  }
  t.skip(msg)
  recordSkip(name, (t as { fullname?: string }).fullname ?? '')
  return false
}

/** SKIP_LOG collects skipped tests so that `npm test` can list them at the end (scripts/skipped.mjs). */
export const SKIP_LOG = `${REPO}.tap/skipped-tools.log`

/** recordSkip notes a test skipped for a missing tool. */
export function recordSkip(tool: string, test: string): void {
  mkdirSync(`${REPO}.tap`, { recursive: true })
  appendFileSync(SKIP_LOG, `${JSON.stringify({ tool, test })}\n`)
}

/** DirectoryOptions are the options of directory mode: its file store's and its resolver's. */
export type DirectoryOptions = Partial<Omit<FileStoreOptions, 'root'> & Omit<DirectoryResolverOptions, 'store'>>

/**
 * directoryResolver is directory mode over `root` as `cutover serve --root` builds it: a FileStore
 * and a DirectoryResolver on it. Options not given are the classes' defaults.
 */
export function directoryResolver(root: string, o: DirectoryOptions = {}): DirectoryResolver {
  const store = new FileStore({ root, dotfiles: o.dotfiles, settleMs: o.settleMs, clock: o.clock })
  return new DirectoryResolver({ store, smallFileMax: o.smallFileMax, cacheBytes: o.cacheBytes, index: o.index, etag: o.etag, contentTypes: o.contentTypes })
}

/**
 * startServe runs a DownloadServer in-process on 127.0.0.1:0 and closes it at teardown. Files are
 * trusted at once (settleMs 0: tests write their fixtures just before they ask for them) unless
 * the options say otherwise; the settle time has tests of its own.
 */
export async function startServe(
  t: T,
  root: string,
  o: DirectoryOptions & { pieceSize?: number; accessLog?: AccessLog } = {},
): Promise<{ url: string; server: DownloadServer; resolver: DirectoryResolver }> {
  const resolver = directoryResolver(root, { settleMs: 0, ...o })
  const server = new DownloadServer({
    resolver,
    logger: pino({ level: 'silent' }),
    accessLog: o.accessLog,
    pieceSize: o.pieceSize,
  })
  const addr = await server.listen(0, '127.0.0.1')
  t.teardown(() => server.close(0))
  return { url: `http://127.0.0.1:${addr.port}`, server, resolver }
}

/**
 * spawnListening starts `command args` (in `env`, this process's if unset) and resolves with the URL
 * it prints in a "listening on http://..." line (bounded: `startMs`, 10 s if unset). The child is
 * killed at teardown.
 */
export async function spawnListening(
  t: T,
  command: string,
  args: string[],
  what = command,
  startMs = 10_000,
  env?: NodeJS.ProcessEnv,
): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) })
  let out = ''
  child.stdout!.setEncoding('utf8')
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (d: string) => (out += d))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start in ${startMs} ms: ${out}`)), startMs)
    child.stdout!.on('data', (d: string) => {
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.once('exit', code => {
      clearTimeout(timer)
      reject(new Error(`${what} exited with ${code}: ${out}`))
    })
  })
  return { url, child, output: () => out }
}

/**
 * startServeProcess runs `cutover serve` as a child process on a free port (see spawnListening),
 * with `--settle-time 0` (as startServe) unless `extra` sets it.
 */
export function startServeProcess(
  t: T,
  root: string,
  extra: string[] = [],
): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const settle = extra.includes('--settle-time') ? [] : ['--settle-time', '0']
  return spawnListening(
    t,
    process.execPath,
    [CLI, 'serve', '--root', root, '--listen', '127.0.0.1:0', ...settle, ...extra],
    'cutover serve',
  )
}

/** exited resolves with a child's exit code (or signal name) once it ends. */
export async function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return child.exitCode
  if (child.signalCode !== null) return child.signalCode
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null]
  return code ?? signal ?? -1
}
