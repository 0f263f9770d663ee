import t from 'tap'
import { parseStoreUrl } from '../../src/cli/store-url.js'

t.test('store URLs: what each names, and what is refused with the flag and URL named', async t => {
  const ok: Array<[url: string, spec: Record<string, string>]> = [
    ['file:///srv/blobs', { kind: 'file', root: '/srv/blobs' }],
    ['file://localhost/srv/blobs', { kind: 'file', root: '/srv/blobs' }],
    ['file:///srv/with%20space', { kind: 'file', root: '/srv/with space' }],
    ['s3://my-bucket', { kind: 's3', bucket: 'my-bucket', prefix: '' }],
    ['s3://my-bucket/', { kind: 's3', bucket: 'my-bucket', prefix: '' }],
    ['s3://my-bucket/blobs', { kind: 's3', bucket: 'my-bucket', prefix: 'blobs/' }],
    ['s3://my-bucket/blobs/', { kind: 's3', bucket: 'my-bucket', prefix: 'blobs/' }],
    ['s3://b.example.com/a/b', { kind: 's3', bucket: 'b.example.com', prefix: 'a/b/' }],
    ['http://origin.example:8080', { kind: 'http', base: 'http://origin.example:8080/' }],
    ['https://origin.example/files', { kind: 'http', base: 'https://origin.example/files/' }],
    ['https://origin.example/files/', { kind: 'http', base: 'https://origin.example/files/' }],
  ]
  for (const [url, spec] of ok) t.same(parseStoreUrl(url), { ok: true, spec: { ...spec, url } }, url)
  const bad: Array<[url: string, why: RegExp]> = [
    ['/srv/blobs', /not a URL/],
    ['ftp://host/x', /ftp stores do not exist/],
    ['file://otherhost/srv', /local directory/],
    ['s3://B/x', /not a valid S3 bucket name/],
    ['s3://ab/x', /not a valid S3 bucket name/],
    ['s3://bucket:9000/x', /--s3-endpoint/],
    ['s3://bucket/x?versionId=1', /no query or fragment/],
    ['http://user:secret@origin/x', /credentials do not belong/],
    ['http://origin/x#frag', /no query or fragment/],
  ]
  for (const [url, why] of bad) {
    const r = parseStoreUrl(url, '--fallback-store')
    t.equal(r.ok, false, `${url}: refused`)
    if (!r.ok) {
      t.match(r.error, why, `${url}: why`)
      t.ok(r.error.startsWith(`--fallback-store ${url.replace(':secret@', ':***@')}: `), `${url}: names the flag and the URL`)
      t.notMatch(r.error, /secret/, `${url}: never repeats a password`)
    }
  }
})
