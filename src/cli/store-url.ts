import { fileURLToPath } from 'node:url'

/**
 * StoreSpec is what a store URL (`--store`, `--fallback-store`) names:
 * - `file:///DIR`: the blobs are files under DIR;
 * - `s3://BUCKET/PREFIX`: objects `PREFIX + key` of an S3 bucket (any S3-compatible service);
 * - `http://ORIGIN/PREFIX` or `https://...`: `GET ORIGIN/PREFIX/key` from an origin server.
 */
export type StoreSpec =
  | { readonly kind: 'file'; readonly url: string; readonly root: string }
  | { readonly kind: 's3'; readonly url: string; readonly bucket: string; readonly prefix: string }
  | { readonly kind: 'http'; readonly url: string; readonly base: string }

/** StoreUrlResult is a parsed store URL, or a usage error naming the flag and the URL. */
export type StoreUrlResult = { readonly ok: true; readonly spec: StoreSpec } | { readonly ok: false; readonly error: string }

/** S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/**
 * parseStoreUrl reads a store URL given to `flag` (see {@link StoreSpec}). A prefix is kept as
 * given, with a `/` added when it lacks one, so `s3://b/blobs` and `s3://b/blobs/` both name the
 * keys under `blobs/`. Refused, with a message naming the flag: anything but the three schemes, a
 * query or fragment (they would silently change every key), credentials in the URL (they would be
 * printed and logged: S3 credentials come from the standard AWS provider chain), a file URL naming
 * another host, and an invalid bucket name.
 */
export function parseStoreUrl(url: string, flag = '--store'): StoreUrlResult {
  let shown = url
  const fail = (why: string): StoreUrlResult => ({ ok: false, error: `${flag} ${shown}: ${why}` })
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return fail('not a URL; give file:///DIR, s3://BUCKET/PREFIX or http(s)://ORIGIN/PREFIX')
  }
  if (u.password !== '') {
    // Echoed in an error that lands in terminals and logs: never with the password.
    const redacted = new URL(url)
    redacted.password = '***'
    shown = redacted.href
  }
  if (u.search !== '' || u.hash !== '') return fail('a store URL has no query or fragment')
  if (u.username !== '' || u.password !== '') return fail('credentials do not belong in the URL (S3 takes them from the standard AWS provider chain)')
  switch (u.protocol) {
    case 'file:': {
      if (u.host !== '' && u.host !== 'localhost') return fail('a file URL must name a local directory (file:///DIR)')
      try {
        return { ok: true, spec: { kind: 'file', url, root: fileURLToPath(u) } }
      } catch (err) {
        return fail((err as Error).message)
      }
    }
    case 's3:': {
      const bucket = u.hostname
      if (!BUCKET.test(bucket)) return fail(`"${bucket}" is not a valid S3 bucket name`)
      if (u.port !== '') return fail('an s3 URL names a bucket, not a server (give the endpoint with --s3-endpoint)')
      const prefix = decodeURIComponent(u.pathname.replace(/^\/+/, ''))
      return { ok: true, spec: { kind: 's3', url, bucket, prefix: withSlash(prefix) } }
    }
    case 'http:':
    case 'https:': {
      const base = `${u.origin}${withSlash(u.pathname)}`
      return { ok: true, spec: { kind: 'http', url, base } }
    }
    default:
      return fail(`${u.protocol.replace(/:$/, '')} stores do not exist; give file:///DIR, s3://BUCKET/PREFIX or http(s)://ORIGIN/PREFIX`)
  }
}

/** withSlash ends a non-empty prefix with `/`. */
const withSlash = (p: string): string => (p === '' || p.endsWith('/') ? p : `${p}/`)
