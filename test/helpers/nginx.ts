import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { join } from 'node:path'
import type { T } from './serve.js'

/** freePort asks the kernel for a free loopback port (nginx cannot be told to pick one itself). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** ephemeralLow is the first port of the kernel's ephemeral range (what `listen(0)` picks from); 32768 if unreadable. */
export function ephemeralLow(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    if (Number.isInteger(first) && first > 2048) return first
  } catch {
    // Not Linux: the usual start of the range.
  }
  return 32768
}

/**
 * deadPort returns a loopback port nothing listens on and that no `listen(0)` of this machine can be
 * given: one below the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range; 32768 if
 * unreadable), checked free by binding it once. A port from {@link freePort} is closed again before
 * use, so a server started next on port 0 (a mirror under test) may be handed that very port and
 * then proxy to itself: seen once in CI, a 431 where the test expected the dead backend's 502.
 * At most 100 tries.
 */
export async function deadPort(): Promise<number> {
  const low = ephemeralLow()
  for (let i = 0; i < 100; i++) {
    const port = 1024 + Math.floor(Math.random() * (low - 1024))
    const free = await new Promise<boolean>(resolve => {
      const s = createServer()
      s.once('error', () => resolve(false))
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (free) return port
  }
  throw new Error(`deadPort: no free port below ${low} in 100 tries`)
}

/** connects tells whether something accepts TCP connections on 127.0.0.1:port. */
function connects(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const c = connect(port, '127.0.0.1')
    c.once('connect', () => {
      c.destroy()
      resolve(true)
    })
    c.once('error', () => resolve(false))
  })
}

/**
 * startNginx runs Debian's nginx in the foreground on `root` (one worker, sendfile, the system
 * mime.types, no access log), on a free loopback port, with every path under `work`. It resolves
 * once the port accepts connections (bounded: 200 tries) and kills nginx at teardown. `o.http` and
 * `o.server` are directives added to the http and server blocks (an access_log in `o.server`
 * overrides the http block's `off`). stop() shuts nginx down gracefully (SIGQUIT) and resolves once
 * it has exited, its logs written.
 */
export async function startNginx(
  t: T,
  root: string,
  work: string,
  o: { http?: string; server?: string } = {},
): Promise<{ url: string; stop: () => Promise<void> }> {
  mkdirSync(join(work, 'tmp'), { recursive: true })
  const port = await freePort()
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const mime = existsSync('/etc/nginx/mime.types') ? 'include /etc/nginx/mime.types;' : ''
  const conf = join(work, 'nginx.conf')
  writeFileSync(
    conf,
    `${isRoot ? 'user root;\n' : ''}worker_processes 1;
daemon off;
# One process: killing it at teardown leaves no orphaned worker behind.
master_process off;
pid ${join(work, 'nginx.pid')};
error_log ${join(work, 'error.log')} warn;
events { worker_connections 1024; }
http {
  ${mime}
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  # nginx's default "exact" answers 304 only when If-Modified-Since equals Last-Modified; RFC 9110
  # §13.1.3 (and Go) also for later dates. "before" is the RFC's rule: without it the audit
  # reports a real divergence (200 from nginx, 304 from cutover) for clients that send later dates.
  if_modified_since before;
  client_body_temp_path ${work}/tmp; proxy_temp_path ${work}/tmp; fastcgi_temp_path ${work}/tmp;
  uwsgi_temp_path ${work}/tmp; scgi_temp_path ${work}/tmp;
  ${o.http ?? ''}
  server {
    listen 127.0.0.1:${port};
    ${o.server ?? ''}
    root ${root};
    location / { }
  }
}
`,
  )
  const child = spawn('nginx', ['-c', conf, '-p', work], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  await awaitPort(port, () => (child.exitCode === null ? undefined : `nginx exited: ${err}`), () => `nginx did not start: ${err}`)
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT')
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`nginx did not exit: ${err}`)), 10_000)
    })
    try {
      await Promise.race([exited, late])
    } finally {
      clearTimeout(timer)
    }
  }
  return { url: `http://127.0.0.1:${port}`, stop }
}

/**
 * awaitPort resolves once something accepts connections on 127.0.0.1:port, polling (bounded: 200
 * tries, 25 ms apart) while another process starts up; `exited` returns an error text once that
 * process has died, `timedOut` the text for giving up.
 */
export async function awaitPort(port: number, exited: () => string | undefined, timedOut: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const dead = exited()
    if (dead !== undefined) throw new Error(dead)
    if (await connects(port)) return
    await new Promise(resolve => setTimeout(resolve, 25)) // waiting on another process's start-up
  }
  throw new Error(timedOut())
}
