import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { awaitPort, freePort } from './nginx.js'
import type { T } from './serve.js'

/** APACHE is Debian's httpd binary (package apache2). */
export const APACHE = '/usr/sbin/apache2'
const MODULES = '/usr/lib/apache2/modules'

/**
 * startApache runs Debian's Apache httpd 2.4 in the foreground on `root`, on a free loopback port,
 * with its stock static-file behaviour (FileETag MTime Size, the system mime.types through
 * mod_mime) and every path under `work`. It resolves once the port accepts connections and kills
 * the process group at teardown (httpd forks its workers).
 */
export async function startApache(t: T, root: string, work: string): Promise<{ url: string }> {
  mkdirSync(work, { recursive: true, mode: 0o755 })
  const port = await freePort()
  const conf = join(work, 'httpd.conf')
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  writeFileSync(
    conf,
    `ServerRoot ${work}
ServerName localhost
Listen 127.0.0.1:${port}
PidFile ${join(work, 'httpd.pid')}
ErrorLog ${join(work, 'error.log')}
Mutex file:${work}
LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule mime_module ${MODULES}/mod_mime.so
${isRoot ? 'User nobody\nGroup nogroup\n' : ''}StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
${existsSync('/etc/mime.types') ? 'TypesConfig /etc/mime.types' : ''}
DocumentRoot ${root}
<Directory ${root}>
  Require all granted
</Directory>
`,
  )
  // detached: its own process group, so the workers it forks die with it.
  const child = spawn(APACHE, ['-f', conf, '-DFOREGROUND'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  t.teardown(() => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  })
  await awaitPort(port, () => (child.exitCode === null ? undefined : `apache2 exited: ${err}`), () => `apache2 did not start: ${err}`)
  return { url: `http://127.0.0.1:${port}` }
}
