import { etagStrongMatch, etagWeakMatch, scanETag } from './etag.js'
import { parseHttpDate } from './http-date.js'
import { trimOws } from './range.js'

/**
 * ConditionalHeaders are the request header values preconditions look at: the first value of
 * each header, as Go's `Header.Get` returns it (not Node's comma-joined value).
 */
export interface ConditionalHeaders {
  readonly ifMatch?: string | undefined
  readonly ifUnmodifiedSince?: string | undefined
  readonly ifNoneMatch?: string | undefined
  readonly ifModifiedSince?: string | undefined
  readonly ifRange?: string | undefined
  readonly range?: string | undefined
}

/** Validators are what the representation offers to preconditions. */
export interface Validators {
  /** The strong or weak ETag, quoted; undefined when the representation has none. */
  readonly etag?: string | undefined
  /** Last modification time; undefined is Go's zero time. */
  readonly lastModified?: Date | undefined
  /** True when lastModified is a weak validator (see Entity.lastModifiedWeak): If-Range dates fail. */
  readonly lastModifiedWeak?: boolean | undefined
}

/**
 * Verdict is the single outcome of evaluating preconditions:
 * `proceed` (with the Range header that survived If-Range, or undefined), `not-modified` (304) or
 * `failed` (412).
 */
export type Verdict =
  | { readonly kind: 'proceed'; readonly range: string | undefined }
  | { readonly kind: 'not-modified' }
  | { readonly kind: 'failed' }

/** condResult is Go's three-valued condition result. */
type Cond = 'none' | 'true' | 'false'

/** isZeroTime is Go's isZeroTime: unset or the Unix epoch. */
export function isZeroTime(t: Date | undefined): boolean {
  return t === undefined || t.getTime() === 0
}

const unixSeconds = (t: Date): number => Math.floor(t.getTime() / 1000)

/** checkIfMatch: `*` or any strongly matching tag is true; a list without a match is false. */
function checkIfMatch(im: string | undefined, etag: string | undefined): Cond {
  if (!im) return 'none'
  for (;;) {
    im = trimOws(im)
    if (im.length === 0) break
    if (im[0] === ',') {
      im = im.slice(1)
      continue
    }
    if (im[0] === '*') return 'true'
    const t = scanETag(im)
    if (!t) break
    if (etagStrongMatch(t.etag, etag)) return 'true'
    im = t.rest
  }
  return 'false'
}

function checkIfUnmodifiedSince(ius: string | undefined, modtime: Date | undefined): Cond {
  if (!ius || isZeroTime(modtime)) return 'none'
  const t = parseHttpDate(ius)
  if (t === undefined) return 'none'
  // Last-Modified has no sub-second precision, so modtime is truncated to the second.
  return unixSeconds(modtime!) <= t ? 'true' : 'false'
}

/** checkIfNoneMatch: `*` or a weakly matching tag is false (the condition fails). */
function checkIfNoneMatch(inm: string | undefined, etag: string | undefined): Cond {
  if (!inm) return 'none'
  let buf = inm
  for (;;) {
    buf = trimOws(buf)
    if (buf.length === 0) break
    if (buf[0] === ',') {
      buf = buf.slice(1)
      continue
    }
    if (buf[0] === '*') return 'false'
    const t = scanETag(buf)
    if (!t) break
    if (etagWeakMatch(t.etag, etag)) return 'false'
    buf = t.rest
  }
  return 'true'
}

function checkIfModifiedSince(method: string, ims: string | undefined, modtime: Date | undefined): Cond {
  if (method !== 'GET' && method !== 'HEAD') return 'none'
  if (!ims || isZeroTime(modtime)) return 'none'
  const t = parseHttpDate(ims)
  if (t === undefined) return 'none'
  return unixSeconds(modtime!) <= t ? 'false' : 'true'
}

function checkIfRange(method: string, ir: string | undefined, v: Validators): Cond {
  if (method !== 'GET' && method !== 'HEAD') return 'none'
  if (!ir) return 'none'
  const t = scanETag(ir)
  if (t) return etagStrongMatch(t.etag, v.etag) ? 'true' : 'false'
  // The If-Range value may also be a date (golang.org/issue/8367); it must equal the modification
  // time to the second. Only a truly unset time fails here: the epoch still compares.
  if (v.lastModified === undefined) return 'false'
  // RFC 9110 §13.1.5: a date is a validator for If-Range only if Last-Modified is strong. Go has no
  // such notion (its dates are always taken as strong); entities that may be mid-write say so.
  if (v.lastModifiedWeak === true) return 'false'
  const d = parseHttpDate(ir)
  if (d === undefined) return 'false'
  return Math.floor(d) === unixSeconds(v.lastModified) ? 'true' : 'false'
}

/**
 * evaluatePreconditions decides a request's conditional headers against a representation,
 * following RFC 9110 §13.2.2 in the order Go's checkPreconditions does: If-Match (else
 * If-Unmodified-Since) → 412; If-None-Match → 304 for GET/HEAD, else 412; If-Modified-Since only
 * without If-None-Match → 304; then If-Range decides whether the Range header survives.
 */
export function evaluatePreconditions(method: string, h: ConditionalHeaders, v: Validators): Verdict {
  let ch = checkIfMatch(h.ifMatch, v.etag)
  if (ch === 'none') ch = checkIfUnmodifiedSince(h.ifUnmodifiedSince, v.lastModified)
  if (ch === 'false') return { kind: 'failed' }
  switch (checkIfNoneMatch(h.ifNoneMatch, v.etag)) {
    case 'false':
      return method === 'GET' || method === 'HEAD' ? { kind: 'not-modified' } : { kind: 'failed' }
    case 'none':
      if (checkIfModifiedSince(method, h.ifModifiedSince, v.lastModified) === 'false') return { kind: 'not-modified' }
  }
  let range = h.range || undefined
  if (range !== undefined && checkIfRange(method, h.ifRange, v) === 'false') range = undefined
  return { kind: 'proceed', range }
}
