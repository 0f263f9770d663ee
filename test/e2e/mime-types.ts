/**
 * `cutover serve --mime-types`: with nginx's own /etc/nginx/mime.types and nginx's default_type,
 * cutover must label every file exactly as a real nginx does on the same directory; a bad table is
 * refused at start-up, naming the file and the line.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { startNginx } from '../helpers/nginx.js'
import { CLI, requireTool, startServeProcess } from '../helpers/serve.js'

const NGINX_TYPES = '/etc/nginx/mime.types'

/** Files whose names exercise the table: packages, images, text, unknown and missing extensions. */
const FILES: Record<string, string> = {
  'a.deb': '!<arch>\ndebian-binary\n',
  'a.rpm': '\xed\xab\xee\xdb rpm',
  'a.iso': 'CD001 iso image',
  'a.yaml': 'key: value\n',
  'a.asc': '-----BEGIN PGP SIGNATURE-----\n',
  'a.txt': '0123456789\n',
  'A.TXT': '0123456789\n',
  'a.html': '<p>hi</p>\n',
  'a.json': '{"a":1}\n',
  'archive.tar.gz': '\x1f\x8b\x08\x00',
  'index.v2.html': '<p>v2</p>\n',
  // Text content: sniffing would say text/plain; nginx's default_type says otherwise.
  file: '0123456789\n',
}

/** typesOf returns the Content-Type of GET and HEAD, and those of the parts of a multi-range GET. */
async function typesOf(base: string, name: string): Promise<{ get: string; head: string; parts: string[] }> {
  const path = `${base}/${encodeURIComponent(name)}`
  const one = async (method: 'GET' | 'HEAD', headers: Record<string, string> = {}): Promise<{ type: string; body: string }> => {
    const res = await request(path, { method, headers, headersTimeout: 10_000, bodyTimeout: 10_000 })
    const body = Buffer.from(await res.body.arrayBuffer()).toString('latin1')
    const type = res.headers['content-type']
    return { type: Array.isArray(type) ? type.join('\n') : (type ?? '(none)'), body }
  }
  const get = await one('GET')
  const head = await one('HEAD')
  const multi = await one('GET', { range: 'bytes=0-1,3-4' })
  const parts = [...multi.body.matchAll(/^Content-Type: (.*)\r$/gim)].map(m => m[1]!)
  return { get: get.type, head: head.type, parts }
}

t.test('cutover serve --mime-types /etc/nginx/mime.types types files exactly as nginx does', async t => {
  if (!requireTool(t, 'nginx')) return
  if (!existsSync(NGINX_TYPES)) {
    t.fail(`${NGINX_TYPES} is missing although nginx is installed`)
    return
  }
  const top = t.testdir({ root: {}, nginx: {} })
  const root = join(top, 'root')
  for (const [name, data] of Object.entries(FILES)) writeFileSync(join(root, name), Buffer.from(data, 'latin1'))
  // startNginx includes /etc/nginx/mime.types and sets default_type application/octet-stream.
  const nginx = await startNginx(t, root, join(top, 'nginx'))
  const cut = await startServeProcess(t, root, ['--mime-types', NGINX_TYPES, '--default-type', 'application/octet-stream'])
  const sniffing = await startServeProcess(t, root, ['--mime-types', NGINX_TYPES])

  const seen = new Set<string>()
  for (const name of Object.keys(FILES)) {
    const want = await typesOf(nginx.url, name)
    const got = await typesOf(cut.url, name)
    t.same(got, want, `${name}: ${want.get}`)
    t.equal(want.parts.length, 2, `${name}: nginx sends two parts, each with its type`)
    seen.add(want.get)
  }
  // The table is really nginx's, not a default that happens to agree: these differ from the built-in table.
  t.equal((await typesOf(nginx.url, 'a.txt')).get, 'text/plain', 'nginx adds no charset')
  t.equal((await typesOf(nginx.url, 'a.rpm')).get, 'application/x-redhat-package-manager')
  t.equal((await typesOf(nginx.url, 'file')).get, 'application/octet-stream')
  t.ok(seen.size >= 5, `${seen.size} distinct types compared`)

  // Without --default-type the names the table lacks are sniffed, as Go does.
  t.equal((await typesOf(sniffing.url, 'file')).get, 'text/plain; charset=utf-8', 'an extension-less text file is sniffed')
  t.equal((await typesOf(sniffing.url, 'a.yaml')).get, 'text/plain; charset=utf-8', 'so is an extension the table lacks')
  t.equal((await typesOf(sniffing.url, 'a.html')).get, 'text/html', 'names in the table still come from it')
})

t.test('cutover serve refuses a bad --mime-types or --default-type with exit 2 and a message naming the problem', async t => {
  const dir = t.testdir({
    root: {},
    'nginx.types': 'types {\n  text/plain  txt;\n  text/html   html\n  image/png   png;\n}\n',
    'apache.types': '# comment\napplication/json json\nhtml text/html\n',
  })
  const cases: Array<{ args: string[]; message: RegExp }> = [
    {
      args: ['--mime-types', join(dir, 'nginx.types')],
      message: new RegExp(`^cutover: ${join(dir, 'nginx.types')}:4: "image/png" is a media type where an extension is expected`),
    },
    { args: ['--mime-types', join(dir, 'apache.types')], message: new RegExp(`^cutover: ${join(dir, 'apache.types')}:3: "html" is not a media type`) },
    { args: ['--mime-types', join(dir, 'missing.types')], message: new RegExp(`^cutover: --mime-types ${join(dir, 'missing.types')}: does not exist`) },
    { args: ['--default-type', 'octet-stream'], message: /--default-type.*expected "sniff" or a media type/ },
  ]
  for (const c of cases) {
    const r = spawnSync(process.execPath, [CLI, 'serve', '--root', join(dir, 'root'), '--listen', '127.0.0.1:0', ...c.args], {
      encoding: 'utf8',
      timeout: 15_000,
    })
    t.equal(r.status, 2, `${c.args.join(' ')}: exit 2`)
    t.match(r.stderr, c.message, `${c.args.join(' ')}: message`)
    t.notMatch(r.stdout, /listening/, `${c.args.join(' ')}: never listens`)
  }
})
