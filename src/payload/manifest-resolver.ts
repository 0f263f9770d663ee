import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { Clock } from '../core/clock.js'
import { bytes } from '../content/bytes.js'
import { readAll, readHead } from './read-content.js'
import { concat } from '../content/concat.js'
import { digestChecked } from '../content/digest-checked.js'
import type { Content } from '../content/content.js'
import type { Entity } from '../content/entity.js'
import { contentDisposition } from '../http/content-disposition.js'
import { ContentTypeResolver } from '../http/content-type-resolver.js'
import { formatHttpDate } from '../http/http-date.js'
import { SNIFF_LEN } from '../http/sniff.js'
import { blobKeys, routeRequest, type CompiledManifest, type Routed } from '../manifest/compile-manifest.js'
import type { Payload } from '../manifest/manifest.js'
import type { BlobInfo } from '../storage/blob-store.js'
import { FileStore } from '../storage/file-store.js'
import { fileBlobSource, type BlobSource, type OpenedBlob } from './blob-source.js'
import type { AccessPolicy, Decision } from './access-policy.js'
import { cleanPath } from './clean-path.js'
import { revealState } from './reveal-state.js'
import { DEFAULT_CACHE_BYTES, DEFAULT_SMALL_FILE_MAX } from './directory-resolver.js'
import { pending, type Pending, type RequestFacts, type Resolution, type ResolutionLog, type Resolver } from './resolver.js'

/** MissingBlobLogger is where a payload whose blob is missing is reported: an operator's problem, not the client's. */
export interface MissingBlobLogger {
  error(obj: object, msg: string): void
}

/** ManifestResolverOptions configures a {@link ManifestResolver}. */
export interface ManifestResolverOptions {
  /** The manifest to serve; {@link ManifestResolver.replace} swaps it. */
  readonly manifest: CompiledManifest
  /**
   * Where the blob keys point: a directory's FileStore (keys are paths under its root, which it
   * never lets a key leave), or any {@link BlobSource} (a remote store behind a stat cache and a
   * chunk cache).
   */
  readonly store: FileStore | BlobSource
  /** "Now" for reveal, expiry, the access policy and the cache fields. */
  readonly clock: Clock
  /**
   * Decides requests for payloads with an `acl` (ManifestAccessPolicy). If unset, every such request is denied (403, fail
   * closed) with the reason "no access policy configured": an acl nobody enforces must not be open.
   */
  readonly policy?: AccessPolicy | undefined
  /**
   * Picks the Content-Type of payloads without `content_type`: by the first blob key's extension,
   * else sniffed from the content's first 512 bytes, as directory mode. If unset, defaults to
   * `new ContentTypeResolver()`.
   */
  readonly contentTypes?: ContentTypeResolver | undefined
  /** Told about each live payload whose blob is missing. If unset, such requests are only counted. */
  readonly logger?: MissingBlobLogger | undefined
  /**
   * Payload contents up to this many bytes (all parts together) are kept in memory after the first
   * request and revalidated with a stat of each blob per request, as directory mode's small files.
   * If unset, defaults to DEFAULT_SMALL_FILE_MAX (1 MiB).
   */
  readonly smallFileMax?: number | undefined
  /**
   * Memory budget of the content cache in bytes. If unset, defaults to DEFAULT_CACHE_BYTES (64 MiB).
   * With a source that keeps bytes of its own ({@link BlobSource.inMemory}: a remote store's chunk
   * cache), small contents' bytes stay there, within that cache's budget, and this one holds only
   * validators and types.
   */
  readonly cacheBytes?: number | undefined
}

/** ManifestResolverStats are the counters of a {@link ManifestResolver}, for metrics and tests. */
export interface ManifestResolverStats {
  /**
   * Requests for a live payload one of whose fixed blob keys (no `{name}` in it) the store does not
   * have (answered 404, logged). A key built from the request that names nothing is a plain miss.
   */
  missingBlobs: number
  /** Manifests that replaced the one in use ({@link ManifestResolver.replace}). */
  reloads: number
  /** Reloads that failed (an invalid or unreadable manifest): counted by whoever reloads, the old manifest kept. */
  reloadFailures: number
  /** Entities answered from the content cache (after a stat of each blob showed it unchanged). */
  hits: number
  /** Entities built afresh (blobs opened, validators derived). */
  misses: number
  /**
   * Large cached contents whose declared digests one full read matched: later reads of those blob
   * versions are not hashed again.
   */
  verified: number
}

/**
 * CachedContent is what the content cache keeps of one payload content (its blob keys, declared
 * digests and declared type): the blob versions it was derived from, its validators and type, and
 * for a small content its bytes, already checked against the declared digests. It stays valid
 * while a stat of every blob shows the same version.
 */
interface CachedContent {
  readonly infos: readonly BlobInfo[]
  readonly meta: Omit<Entity, 'content' | 'headers'>
  /**
   * The whole content, when it is small and the source keeps no bytes of its own; undefined for
   * large ones (opened per request) and for small ones whose bytes the source keeps (`small`).
   */
  readonly data?: ReturnType<typeof bytes> | undefined
  /**
   * A small content whose bytes the source keeps ({@link BlobSource.inMemory}), checked against the
   * declared digests when they were read: served from the source's memory while it holds them all,
   * else opened and read again as a large content (which puts them back).
   */
  readonly small?: boolean
  /**
   * The last entity made of each in-memory Content (`data`, or the source's), reused while a
   * request's headers are the same array. Weak: an entity never keeps bytes the source dropped.
   */
  entities?: WeakMap<Content, Entity> | undefined
  /**
   * For a large content: every declared digest has matched one full read of these blob versions,
   * so later reads of them are not hashed again (a replaced or rewritten blob is another version).
   */
  verified?: boolean
}

/** Route is what a request path names in a manifest: the payload and pattern, its blob keys and its content key. */
interface Route {
  readonly routed: Routed
  readonly keys: readonly string[]
  readonly ckey: string
}

/**
 * ROUTE_MEMO_ENTRIES bounds the raw request paths whose routes are remembered: the hot paths of a
 * download service are far fewer, and a client making up paths only evicts entries. Each entry is
 * a path (bounded by the request-line limit) and a few small objects.
 */
const ROUTE_MEMO_ENTRIES = 4096

/** PLACEHOLDER finds a `{name}` in a blob key template (see blobKey in manifest/compile-manifest.ts). */
const PLACEHOLDER = /\{[A-Za-z_][A-Za-z0-9_]*\}/

/** MANIFEST_TAG_HEX is how many hex digits of the manifest's SHA-256 each access record carries. */
export const MANIFEST_TAG_HEX = 12

/** NO_POLICY_RULE is the rule a payload with an acl is denied by when no policy is configured. */
export const NO_POLICY_RULE = 'no-policy'

/**
 * ManifestResolver is manifest mode (`serve --manifest --store`): each request path is cleaned as in
 * directory mode, routed by the manifest's precedence, and answered by where its payload stands at
 * the request time:
 * - no payload, or one not revealed yet: a miss (404), the same bytes whatever the method or headers,
 *   so a payload's existence leaks nothing before its reveal;
 * - expired: the payload's expired status, 404 (a miss) or 410 (`gone`, RFC 9110 §15.5.11);
 * - with an acl: the policy decides; a deny is a visible 403 (the reason is for the log);
 * - otherwise an entity of its blob, or of its parts concatenated in order.
 *
 * The entity's validators: a strong ETag derived from the versions of its blobs (the store's
 * version: device, inode, size, mtime, ctime), the blob keys and the Content-Type, so that it changes whenever the
 * bytes can have; the declared sha256 is NOT used for it, since it is a claim about the bytes that
 * a replaced blob silently breaks, and a strong ETag must change with the bytes (RFC 9110 §8.8.3).
 * While any blob is settling (just written) the ETag is weak and the date too (RFC 9110 §8.8.2.2).
 * Last-Modified is the newest blob's mtime. A declared sha256 (of the blob, or of a part) is checked
 * on full reads ({@link digestChecked}): a whole-body response whose bytes contradict it is cut
 * before its end (or is a 500 when it fits in one piece), and the server logs the mismatch. Once one
 * full read of a cached content's blob versions has matched, later reads of those versions are not
 * hashed again (a small content is checked once, when it is read into memory). The other fields are documented on
 * {@link payloadHeaders}.
 *
 * What is kept between requests, and why it cannot go stale: the route of each hot raw path (a pure
 * function of the path and the manifest, kept per manifest); a payload's headers when they depend
 * on neither time nor the request; and a content cache (as directory mode's small files): contents
 * up to `smallFileMax` in memory (in the source's own memory when it keeps one, a remote store's
 * chunk cache, so that one budget holds one copy), larger ones their validators and type, each
 * revalidated on every request by a stat of each of its blobs, and only when every blob had settled.
 * Reveal, expiry and the access policy are decided afresh for every request.
 */
export class ManifestResolver implements Resolver {
  readonly store: FileStore | BlobSource
  readonly #source: BlobSource
  readonly stats: ManifestResolverStats = { missingBlobs: 0, reloads: 0, reloadFailures: 0, hits: 0, misses: 0, verified: 0 }
  #manifest: CompiledManifest
  /** The first MANIFEST_TAG_HEX hex digits of the manifest's SHA-256, for the access log (set with the manifest). */
  #tag: string
  /** fixedHeaders per payload, computed on first use; payloads of a replaced manifest drop out with it. */
  readonly #fixedByPayload = new WeakMap<Payload, ReadonlyArray<readonly [string, string]>>()
  /** payloadHeaders per payload whose headers depend neither on time nor on the request (see #headers). */
  readonly #timeless = new WeakMap<Payload, ReadonlyArray<readonly [string, string]>>()
  /** Routes per raw request path, each for the manifest it was found in (see #route). */
  readonly #routes = new LRUCache<string, { readonly manifest: CompiledManifest; readonly route: Route | undefined }>({ max: ROUTE_MEMO_ENTRIES })
  readonly #clock: Clock
  #policy: AccessPolicy | undefined
  readonly #types: ContentTypeResolver
  readonly #logger: MissingBlobLogger | undefined
  readonly #smallMax: number
  /**
   * The content cache, keyed by what a content's bytes, validators and type are derived from (see
   * {@link contentKey}), not by payload: it survives reloads that leave a content alone.
   */
  readonly #cache: LRUCache<string, CachedContent>

  /** Throws TypeError for a cacheBytes that is not a positive integer or a smallFileMax that is not a non-negative one. */
  constructor(o: ManifestResolverOptions) {
    this.#manifest = o.manifest
    this.#tag = o.manifest.hash.slice(0, MANIFEST_TAG_HEX)
    this.store = o.store
    this.#source = o.store instanceof FileStore ? fileBlobSource(o.store) : o.store
    this.#clock = o.clock
    this.#policy = o.policy
    this.#types = o.contentTypes ?? new ContentTypeResolver()
    this.#logger = o.logger
    this.#smallMax = o.smallFileMax ?? DEFAULT_SMALL_FILE_MAX
    if (!Number.isSafeInteger(this.#smallMax) || this.#smallMax < 0) throw new TypeError('smallFileMax must be a non-negative integer')
    const cacheBytes = o.cacheBytes ?? DEFAULT_CACHE_BYTES
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes <= 0) throw new TypeError('cacheBytes must be a positive integer')
    this.#cache = new LRUCache<string, CachedContent>({
      maxSize: cacheBytes,
      // Entries without bytes still cost their metadata; count them so the entry count is bounded too.
      sizeCalculation: (c, key) => (c.data?.size ?? 0) + 256 + key.length,
    })
  }

  /** manifest is the manifest in use. */
  get manifest(): CompiledManifest {
    return this.#manifest
  }

  /**
   * replace makes `next` the manifest (and `policy`, when given, the access policy: its keys and
   * geo database reloaded with it) of every request resolved from now on; requests already resolved
   * keep the entity they got (a download in flight is not cut). Counted in stats.reloads.
   */
  replace(next: CompiledManifest, policy?: AccessPolicy): void {
    this.#manifest = next
    this.#tag = next.hash.slice(0, MANIFEST_TAG_HEX)
    if (policy) this.#policy = policy
    this.stats.reloads++
  }

  /** #fixed is the request-independent headers of `payload`, computed once. */
  #fixed(payload: Payload): ReadonlyArray<readonly [string, string]> {
    let h = this.#fixedByPayload.get(payload)
    if (h === undefined) this.#fixedByPayload.set(payload, (h = fixedHeaders(payload)))
    return h
  }

  /**
   * resolve answers a request (see {@link ManifestResolver}). A miss, an expiry or a deny is answered
   * at once; an entity as {@link Pending} (its blobs are opened). Throws CutoverError ERR_BAD_REQUEST
   * for a path that cannot be cleaned (400); the store's ERR_FORBIDDEN or ERR_IO reject.
   */
  resolve(request: RequestFacts): Resolution | Pending {
    const manifest = this.#manifest
    // Every record names the manifest that answered it, so a log spanning a reload tells which did.
    const m = this.#tag
    const route = this.#route(request.path, manifest)
    if (route === undefined) return { kind: 'miss', log: { manifest: m, decision: 'miss' } }
    const { routed, keys, ckey } = route
    const payload = routed.payload
    const at = this.#clock.now()
    const state = revealState(payload, at)
    // Unrevealed is logged as a miss: that is what the client saw; the payload's name tells the operator.
    if (state.state === 'unrevealed') return { kind: 'miss', log: { manifest: m, payload: payload.name, decision: 'miss' } }
    if (state.state === 'expired') {
      const log = { manifest: m, payload: payload.name, decision: 'expired' }
      return state.status === 410 ? { kind: 'gone', log } : { kind: 'miss', log }
    }
    let vary: readonly string[] = []
    let client: string | undefined
    if (payload.acl !== undefined) {
      const decision: Decision = this.#policy?.decide(payload, request, at) ?? {
        allow: false,
        client: request.remote,
        vary: [],
        rule: NO_POLICY_RULE,
        reason: 'no access policy configured',
      }
      if (!decision.allow) {
        const log = { manifest: m, payload: payload.name, decision: `deny:${decision.rule}`, client: decision.client }
        return { kind: 'deny', reason: decision.reason, visible: true, log }
      }
      vary = decision.vary
      client = decision.client
    }
    const log: ResolutionLog = client !== undefined ? { manifest: m, payload: payload.name, decision: 'served', client } : { manifest: m, payload: payload.name, decision: 'served' }
    const hit = this.#cache.get(ckey)
    if (hit !== undefined) {
      if (hit.infos.every(info => this.#source.unchanged(info))) {
        const headers = this.#headers(payload, at, vary)
        // The hot path: a small content is answered from memory, without a promise; its entity is
        // made once per set of headers (the same array for a payload whose headers are timeless).
        const data = hit.data ?? (hit.small === true ? this.#inMemory(hit.infos) : undefined)
        if (data !== undefined) {
          this.stats.hits++
          const entities = (hit.entities ??= new WeakMap())
          let entity = entities.get(data)
          if (entity === undefined || entity.headers !== headers) entities.set(data, (entity = { ...hit.meta, content: data, headers }))
          return { kind: 'entity', entity, release: noop, log }
        }
        return pending(this.#openCached(hit, routed, keys, ckey, { at, vary, log, m }))
      }
      // Stale: a blob changed; built afresh below.
      this.#cache.delete(ckey)
    }
    return pending(this.#entity(routed, keys, ckey, { at, vary, log, m }))
  }

  /**
   * #route finds what a raw request path names in `manifest`: the cleaned path routed by the
   * manifest's precedence, its blob keys and its content key; undefined when no payload matches.
   * Throws CutoverError ERR_BAD_REQUEST for a path that cannot be cleaned. Answers are remembered
   * per raw path for the manifest they were found in (a reload starts afresh), so a hot path is
   * routed once: a pure function of the path and the manifest, it cannot go stale otherwise.
   */
  #route(rawPath: string, manifest: CompiledManifest): Route | undefined {
    const known = this.#routes.get(rawPath)
    if (known !== undefined && known.manifest === manifest) return known.route
    // Matched as `manifest resolve` matches: decoded, empty and "." segments dropped, ".." refused.
    // Dotfiles are allowed in paths: the manifest names what exists, not the filesystem.
    const path = `/${cleanPath(rawPath, true)}`
    const routed = routeRequest(manifest, path)
    let route: Route | undefined
    if (routed !== undefined) {
      const keys = blobKeys(routed, path)
      route = { routed, keys, ckey: contentKey(routed.payload, keys) }
    }
    this.#routes.set(rawPath, { manifest, route })
    return route
  }

  /**
   * #headers is {@link payloadHeaders} of `payload` at `at` with `vary`, remembered per payload
   * when they cannot change with time (no max-age capped by an expiry, no Expires) and no Vary.
   */
  #headers(payload: Payload, at: number, vary: readonly string[]): ReadonlyArray<readonly [string, string]> {
    const timeless = vary.length === 0 && payload.cache?.kind !== 'expires-in' && !(payload.cache?.kind === 'max-age' && payload.expires !== undefined)
    if (!timeless) return payloadHeaders(payload, at, vary, this.#fixed(payload))
    let h = this.#timeless.get(payload)
    if (h === undefined) this.#timeless.set(payload, (h = payloadHeaders(payload, at, vary, this.#fixed(payload))))
    return h
  }

  /**
   * #inMemory is the content of blob versions `infos`, in order, when the source holds all their
   * bytes in memory now (see {@link BlobSource.inMemory}); else undefined.
   */
  #inMemory(infos: readonly BlobInfo[]): Content | undefined {
    const inMemory = this.#source.inMemory
    if (inMemory === undefined) return undefined
    if (infos.length === 1) return inMemory.call(this.#source, infos[0]!)
    const parts: Content[] = []
    for (const info of infos) {
      const c = inMemory.call(this.#source, info)
      if (c === undefined) return undefined
      parts.push(c)
    }
    return concat(parts)
  }

  /**
   * #openCached opens the blobs of a cached large content at the versions it was derived from
   * (sharing their descriptors), or builds it afresh when one changed since the stat.
   */
  async #openCached(hit: CachedContent, routed: Routed, keys: readonly string[], ckey: string, r: RequestContext): Promise<Resolution> {
    const blobs: OpenedBlob[] = []
    try {
      const sums = declaredDigests(routed.payload)
      for (const [i, info] of hit.infos.entries()) {
        const opened = await this.#source.open(info.key, info, sums[i])
        if (opened === undefined || !opened.cacheable) {
          opened?.blob.close()
          closeAll(blobs)
          this.#cache.delete(ckey)
          return await this.#entity(routed, keys, ckey, r)
        }
        blobs.push(opened.blob)
      }
    } catch (err) {
      closeAll(blobs)
      throw err
    }
    // Counted here, not at the stat: a blob that changed before its open is a miss (#entity), not both.
    this.stats.hits++
    const payload = routed.payload
    const content = hit.verified === true ? joined(blobs) : checkedContent(payload, blobs, this.#verify(hit))
    const entity: Entity = { ...hit.meta, content, headers: this.#headers(payload, r.at, r.vary) }
    return { kind: 'entity', entity, release: () => closeAll(blobs), log: r.log }
  }

  /**
   * #entity opens the payload's blobs and builds its entity; a missing blob is a logged 404. What
   * may be cached is: nothing unless every blob had settled (the store gave it a version) and its
   * descriptor shows what the stat of its path showed (bytes read from a file that may be mid-write
   * must never be remembered under its identity). A small content is read into memory, checked
   * against its declared digests, and its descriptors closed; one whose bytes contradict a declared
   * digest is never cached, and is served through the digest check, which fails it.
   */
  async #entity(routed: Routed, keys: readonly string[], ckey: string, r: RequestContext): Promise<Resolution> {
    this.stats.misses++
    const payload = routed.payload
    const m = r.m
    const blobs: OpenedBlob[] = []
    let cacheable = true
    const release = (): void => closeAll(blobs)
    try {
      const c = payload.content
      const templates = c.kind === 'blob' ? [c.blob] : c.parts.map(p => p.blob)
      const sums = declaredDigests(payload)
      for (const [i, key] of keys.entries()) {
        const opened = await this.#source.open(key, undefined, sums[i])
        if (opened === undefined) {
          release()
          // A key built from the request ("{path}", "{version}") that names nothing is a path the
          // client made up: a plain miss, or any client could fill the error log. A fixed key that
          // names nothing is the manifest pointing at nothing: the operator must hear of it.
          if (PLACEHOLDER.test(templates[i] ?? '')) return { kind: 'miss', log: { manifest: m, payload: payload.name, decision: 'miss' } }
          this.stats.missingBlobs++
          this.#logger?.error({ payload: payload.name, key, manifest: this.#manifest.file }, 'the manifest names a blob the store does not have')
          return { kind: 'deny', reason: `blob ${key} is missing`, log: { manifest: m, payload: payload.name, decision: 'missing-blob' } }
        }
        blobs.push(opened.blob)
        cacheable &&= opened.cacheable
      }
      const raw = joined(blobs)
      const headers = this.#headers(payload, r.at, r.vary)
      if (raw.size <= this.#smallMax) {
        const data = await readAll(raw)
        release()
        const meta = this.#meta(payload, keys, blobs, data.subarray(0, SNIFF_LEN))
        // Each blob's bytes, checked against its declared digest once, here; cached only if they hold.
        const parts: Uint8Array[] = []
        let off = 0
        for (const b of blobs) {
          parts.push(data.subarray(off, off + b.info.size))
          off += b.info.size
        }
        const intact = parts.every((part, i) => sums[i] === undefined || createHash('sha256').update(part).digest('hex') === sums[i]!.toLowerCase())
        const content = bytes(data)
        // A source that keeps bytes of its own has them now (this read put them there): the cache
        // keeps only what it derived, so the bytes are held once, within the source's budget.
        const infos = blobs.map(b => b.info)
        if (cacheable && intact) this.#cache.set(ckey, this.#source.inMemory ? { infos, meta, small: true, verified: true } : { infos, meta, data: content })
        // Bytes that contradict a declared digest go through the check, which fails the full read at its end.
        const entity: Entity = { ...meta, content: intact ? content : withDigests(payload, parts.map(p => bytes(p))), headers }
        return { kind: 'entity', entity, release: noop, log: r.log }
      }
      const meta = this.#meta(payload, keys, blobs, await readHead(raw))
      const entry: CachedContent = { infos: blobs.map(b => b.info), meta }
      if (cacheable) this.#cache.set(ckey, entry)
      return { kind: 'entity', entity: { ...meta, content: checkedContent(payload, blobs, cacheable ? this.#verify(entry) : undefined), headers }, release, log: r.log }
    } catch (err) {
      release()
      throw err
    }
  }

  /**
   * #meta is a content's validators and type: the type declared, else by the first blob key's
   * extension, else sniffed from `head` (its first bytes); a strong ETag derived from the type and
   * every blob's key and version (weak while any blob is settling, RFC 9110 §8.8.2.2, with a weak
   * date too); Last-Modified the newest blob's mtime.
   */
  #meta(payload: Payload, keys: readonly string[], blobs: readonly OpenedBlob[], head: Uint8Array): Omit<Entity, 'content' | 'headers'> {
    const contentType = payload.contentType ?? this.#types.byName(keys[0] ?? '') ?? this.#types.sniff(head)
    const settling = blobs.some(b => b.info.version === undefined)
    // The type is part of what a cache keeps under the tag: a manifest that changes it must change the tag.
    const hash = createHash('sha256').update(`${contentType}\0`)
    for (const b of blobs) hash.update(`${b.info.key}\0${b.tag}\0`)
    const tag = `"${hash.digest('base64url').slice(0, 27)}"`
    const lastModified = new Date(Math.floor(Math.max(...blobs.map(b => b.info.mtimeMs))))
    return {
      etag: settling ? `W/${tag}` : tag,
      lastModified,
      // Formatted once per content version, not per response: cached entries carry it.
      lastModifiedText: formatHttpDate(lastModified),
      ...(settling ? { lastModifiedWeak: true } : {}),
      contentType,
    }
  }

  /** #verify is what marks a cached content verified (once, counted) when a full read matched its digests. */
  #verify(entry: CachedContent): () => void {
    return () => {
      if (entry.verified === true) return
      entry.verified = true
      this.stats.verified++
    }
  }
}

/** RequestContext is what the entity of one request carries besides its content: time, Vary, log record. */
interface RequestContext {
  readonly at: number
  readonly vary: readonly string[]
  readonly log: ResolutionLog
  readonly m: string
}

const noop = (): void => undefined

/** closeAll gives back the descriptors of opened blobs. */
function closeAll(blobs: readonly OpenedBlob[]): void {
  for (const b of blobs) b.close()
}

/**
 * contentKey names what a payload's content is derived from: its declared type, its declared
 * digests and its blob keys (built from the request where templated). Two payloads, or two
 * manifests, that agree on all three share cache entries.
 */
function contentKey(payload: Payload, keys: readonly string[]): string {
  return `${payload.contentType ?? ''}\0${declaredDigests(payload).join(',')}\0${keys.join('\0')}`
}

/** declaredDigests is the declared sha256 of each blob of a payload's content, in order (undefined where none). */
function declaredDigests(payload: Payload): ReadonlyArray<string | undefined> {
  const c = payload.content
  return c.kind === 'blob' ? [c.sha256] : c.parts.map(p => p.sha256)
}

/**
 * withDigests joins the contents of a payload's blobs in order, each with a declared sha256
 * wrapped in {@link digestChecked}, so a full read checks it (a part's on the full read of the whole).
 * `onVerified` is called once every declared digest has matched in one full read.
 */
function withDigests(payload: Payload, contents: readonly Content[], onVerified?: () => void): Content {
  const sums = declaredDigests(payload)
  let left = sums.filter(s => s !== undefined).length
  const matched = onVerified && ((): void => void (--left === 0 && onVerified()))
  const checked = contents.map((c, i): Content => (sums[i] === undefined ? c : digestChecked(c, sums[i]!, matched)))
  return checked.length === 1 ? checked[0]! : concat(checked)
}

/** checkedContent is {@link withDigests} of opened blobs. */
function checkedContent(payload: Payload, blobs: readonly OpenedBlob[], onVerified?: () => void): Content {
  return withDigests(payload, blobs.map(b => b.content), onVerified)
}

/** joined is the content of opened blobs in order, unchecked. */
function joined(blobs: readonly OpenedBlob[]): Content {
  return blobs.length === 1 ? blobs[0]!.content : concat(blobs.map(b => b.content))
}


/**
 * payloadHeaders are the response fields a payload adds to its entity at request time `at`:
 * - its custom headers, as the manifest merged them;
 * - `Content-Disposition: attachment` when it has a filename ({@link contentDisposition}: RFC 6266
 *   §4.3, `filename*` per RFC 8187 for names that are not plain ASCII);
 * - `Repr-Digest: sha-256=:<base64>:` (RFC 9530 §3, a Structured Fields byte sequence) only for a
 *   single blob with a declared sha256: the digest of a concatenation cannot be derived from its
 *   parts' digests, so a payload of parts never gets one;
 * - the cache policy: `max_age` -> `Cache-Control: max-age=N` (RFC 9111 §5.2.2.1), N capped at the
 *   whole seconds left before the payload expires (floored: 0 in its last second), so that no cache
 *   keeps it past its expiry; `expires_in` -> `Expires` (RFC 9111 §5.3) at `at` + N, capped at the
 *   expiry; `no_store` -> `Cache-Control: no-store`;
 * - with an acl: `private` in Cache-Control (a shared cache must not hand one client's answer to
 *   another, RFC 9111 §5.2.2.7; alone when there is no cache policy), and `Vary` on the request
 *   fields the decision read (RFC 9110 §12.5.5), when there are any.
 * A payload is live at `at` when this is called, so the time left before its expiry is positive.
 */
export function payloadHeaders(
  payload: Payload,
  at: number,
  vary: readonly string[],
  fixed: ReadonlyArray<readonly [string, string]> = fixedHeaders(payload),
): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = [...fixed]
  const directives: string[] = []
  if (payload.acl !== undefined) directives.push('private')
  const cache = payload.cache
  if (cache?.kind === 'max-age') {
    const left = payload.expires === undefined ? Infinity : Math.max(0, Math.floor((payload.expires - at) / 1000))
    directives.push(`max-age=${Math.min(cache.seconds, left)}`)
  } else if (cache?.kind === 'no-store') {
    directives.push('no-store')
  }
  if (directives.length > 0) out.push(['Cache-Control', directives.join(', ')])
  if (cache?.kind === 'expires-in') {
    const until = Math.min(at + cache.seconds * 1000, payload.expires ?? Infinity)
    out.push(['Expires', formatHttpDate(new Date(until))])
  }
  if (payload.acl !== undefined && vary.length > 0) out.push(['Vary', vary.join(', ')])
  return out
}

/**
 * fixedHeaders are the fields of {@link payloadHeaders} that do not depend on the request: the
 * custom headers, Content-Disposition and Repr-Digest. The resolver computes them once per payload
 * of a manifest, not per request.
 */
export function fixedHeaders(payload: Payload): ReadonlyArray<readonly [string, string]> {
  const out: Array<readonly [string, string]> = payload.headers.map(h => [h.name, h.value] as const)
  if (payload.filename !== undefined) out.push(['Content-Disposition', contentDisposition(payload.filename)])
  const c = payload.content
  if (c.kind === 'blob' && c.sha256 !== undefined) out.push(['Repr-Digest', `sha-256=:${Buffer.from(c.sha256, 'hex').toString('base64')}:`])
  return out
}

