import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { abortError, codeOf, CutoverError } from '../core/errors.js'
import type { BlobInfo, BlobStore } from './blob-store.js'

/** VERIFY_READ_BYTES is the size of each read that hashes a blob before a read continues from it. */
export const VERIFY_READ_BYTES = 1024 * 1024

/**
 * MAX_VERIFIED_VERSIONS bounds the blob versions remembered as hashed (matching the declared digest
 * or not), so a version is hashed once however many downloads move to it.
 */
export const MAX_VERIFIED_VERSIONS = 1024

/** NamedStore is one store of a {@link FallbackStore} chain, with the name its counters and logs use. */
export interface NamedStore {
  /** A name unique in the chain (`s3`, `disk`): it labels counters and {@link FallbackBlobInfo.store}. */
  readonly name: string
  readonly store: BlobStore
}

/**
 * FallbackBlobInfo is a {@link BlobInfo} found by a {@link FallbackStore}: which store answered, and
 * the store's own info, which reads of this version go to.
 *
 * `version` is the store's version prefixed with the store's name (`disk:<version>`), undefined while
 * the store's is: two stores name versions in unrelated ways (a file identity, an S3 ETag), so a chunk
 * cache keyed on versions must never take one store's chunks for another's.
 */
export interface FallbackBlobInfo extends BlobInfo {
  /** The name of the store that answered the stat ({@link NamedStore.name}). */
  readonly store: string
  /** That store's own info. */
  readonly inner: BlobInfo
  /**
   * The SHA-256 (lower-case hex) the caller declares for the blob's bytes, or undefined when none is
   * declared. Set at stat time from {@link FallbackStoreOptions.declaredSha256}; a caller that knows
   * the digest otherwise may set it on a copy (`{ ...info, sha256 }`). Only with it may a failed
   * read continue from another store ({@link FallbackStore.read}), and the caller then promises to
   * check every full read of the blob against it (content/digest-checked.ts).
   */
  readonly sha256: string | undefined
}

/** FallbackStoreOptions configures a {@link FallbackStore}. */
export interface FallbackStoreOptions {
  /**
   * The stores in order of preference: the first is asked first. At least one; names unique and
   * non-empty.
   */
  readonly stores: readonly NamedStore[]
  /**
   * The declared SHA-256 (hex) of the blob `key` names, or undefined when none is declared (the
   * manifest's `sha256` of a blob or part). Looked up at each stat and carried in the info. If unset,
   * no blob has a declared digest, so a read never falls back (see {@link FallbackStore.read}).
   */
  readonly declaredSha256?: (key: string) => string | undefined
  /**
   * Before a failed read continues from a later store, hash that store's blob in full (reads of
   * {@link VERIFY_READ_BYTES}, once per version, remembered for {@link MAX_VERIFIED_VERSIONS}
   * versions) and continue only if it matches the declared sha256, so the bytes a client gets after
   * the switch are proven the declared ones. A blob without a version (settling) cannot be proven and
   * is passed over. If unset, defaults to true. False trusts the declaration and the equal size: a
   * full download is still checked by its caller (content/digest-checked.ts) and cut at its end if
   * wrong, but the bytes handed over before that, and every range, are unchecked; it saves one full
   * read of the blob per rerouted version (SHA-256 runs at 1.57 GB/s on the bench machine, says
   * bench/README.md: about 0.7 s of CPU per GiB).
   */
  readonly verifyReroutes?: boolean
}

/** FallbackStoreStats are the counters of a {@link FallbackStore}, by store name (null-prototype records). */
export interface FallbackStoreStats {
  /**
   * Fallbacks away from a store, by the store left and the code of the error that made it be left
   * (`fallbacks.s3.ERR_IO`; `other` for an error that is not a CutoverError): a stat asking the
   * next store, or a read continuing from the next store.
   */
  readonly fallbacks: Record<string, Record<string, number>>
  /**
   * Reads that failed on the store their stat came from and continued from a later one (the reads of
   * that info after it, which go to the later store at once, are not counted again).
   */
  readReroutes: number
  /**
   * Reads that failed and could not continue elsewhere, by the reason, the first that applies:
   * `undeclared` (no declared sha256), `digest` (a later store's blob of the right size hashes to
   * another digest), `size` (a later store's blob has another size), `unavailable` (no later store
   * could stat the blob, or it was settling, or reading it to verify it failed).
   */
  readonly refused: Record<'undeclared' | 'digest' | 'size' | 'unavailable', number>
  /** Blob versions of later stores hashed in full before a read continued from them. */
  verifications: number
  /**
   * Failures of each store, stats and reads, other than ERR_NOT_FOUND (an answer, not a fault) and
   * ERR_ABORTED (the caller's doing).
   */
  readonly errors: Record<string, number>
}

/** Rerouted is where reads of one info continue once its own store failed. */
interface Rerouted {
  readonly index: number
  readonly inner: BlobInfo
}

/** reasonOf is the counter label of an error: its ERR_* code, or `other`. */
const reasonOf = (err: unknown): string => codeOf(err) ?? 'other'

/**
 * FallbackStore is a {@link BlobStore} over an ordered chain of stores, as dl.google.com reads from
 * its storage service and falls back to local disk on any error of it.
 *
 * `stat(key)` asks each store in order and answers with the first that finds the blob: it moves on
 * after *any* error, ERR_NOT_FOUND included (a blob written to the disk but not yet uploaded is found
 * on the disk). When every store fails it rejects with ERR_NOT_FOUND only if every store said
 * ERR_NOT_FOUND; otherwise with the first store's error that was not ERR_NOT_FOUND (a store that is
 * down may hold the blob: "missing" would be a lie). An abort is never fallen back on: the caller's
 * signal, or ERR_ABORTED from a store, which is why a store's own timeout must reject with
 * ERR_TIMEOUT, not ERR_ABORTED, to be fallen back on.
 *
 * `read(info)` reads from the store the stat came from. If that fails, the read continues from a later
 * store only when mixing is safe: the blob has a declared sha256 ({@link FallbackBlobInfo.sha256}),
 * the later store's stat shows the same size, and (unless {@link FallbackStoreOptions.verifyReroutes}
 * is false) that store's version hashes to the declared digest, read in full once per version. The
 * bytes after the switch are then the declared ones; the caller still checks full downloads against
 * the digest (content/digest-checked.ts), which also covers the first store's bytes. Without a
 * declared digest the error propagates: the store cannot tell whether bytes were already sent, and
 * bytes of two stores are two versions (the server then cuts the connection). Once an info's reads
 * moved to a later store they stay there. The first store's bytes are not proven: a range served
 * partly from each is as right as the first store's part would have been alone. A chunk cache keyed on `info.version` keeps rerouted
 * bytes under the first store's version: proven the declared bytes when verifying, only declared so
 * when not.
 */
export class FallbackStore implements BlobStore<FallbackBlobInfo> {
  /** The names of the stores, in order. */
  readonly names: readonly string[]
  /** The chain's counters (see {@link FallbackStoreStats}), for metrics (telemetry/store-metrics.ts) and tests. */
  readonly stats: FallbackStoreStats
  readonly #stores: readonly NamedStore[]
  readonly #declared: ((key: string) => string | undefined) | undefined
  /**
   * Where reads of an info continue after its own store failed, keyed per info: one stat's answer,
   * which one download uses, or many when a stat cache (stat-cache.ts) shares it.
   */
  readonly #rerouted = new WeakMap<FallbackBlobInfo, Promise<Rerouted | undefined>>()
  readonly #verify: boolean
  /** Whether a version of a later store hashes to a digest, by store index, key, version and digest. */
  readonly #verified = new LRUCache<string, Promise<boolean>>({ max: MAX_VERIFIED_VERSIONS })

  /** Throws TypeError for an empty chain or a name that is empty or repeated. */
  constructor(o: FallbackStoreOptions) {
    if (o.stores.length === 0) throw new TypeError('a fallback store needs at least one store')
    const names = o.stores.map(s => s.name)
    for (const [i, name] of names.entries()) {
      if (typeof name !== 'string' || name === '') throw new TypeError('every store needs a name')
      if (names.indexOf(name) !== i) throw new TypeError(`store name ${name} is repeated`)
    }
    this.#stores = [...o.stores]
    this.names = names
    this.#declared = o.declaredSha256
    this.#verify = o.verifyReroutes ?? true
    const fallbacks: Record<string, Record<string, number>> = Object.create(null)
    const errors: Record<string, number> = Object.create(null)
    for (const name of names) {
      fallbacks[name] = Object.create(null)
      errors[name] = 0
    }
    this.stats = { fallbacks, readReroutes: 0, refused: { undeclared: 0, digest: 0, size: 0, unavailable: 0 }, verifications: 0, errors }
  }

  /** stat is {@link BlobStore.stat} over the chain (see {@link FallbackStore}). */
  async stat(key: string, signal?: AbortSignal): Promise<FallbackBlobInfo> {
    let failure: unknown
    let lastNotFound: unknown
    for (const [index, { name, store }] of this.#stores.entries()) {
      if (signal?.aborted) throw abortError(signal)
      try {
        const inner = await store.stat(key, signal)
        const sha256 = this.#declared?.(key)?.toLowerCase()
        return {
          key: inner.key,
          size: inner.size,
          mtimeMs: inner.mtimeMs,
          version: inner.version === undefined ? undefined : `${name}:${inner.version}`,
          store: name,
          inner,
          sha256,
        }
      } catch (err) {
        if (this.#aborted(err, signal)) throw err
        this.#failed(name, err)
        if (codeOf(err) === 'ERR_NOT_FOUND') lastNotFound = err
        else failure ??= err
        if (index + 1 < this.#stores.length) this.#count(name, err)
      }
    }
    throw failure ?? lastNotFound
  }

  /**
   * read is {@link BlobStore.read} from the store `info` came from, continuing from a later store
   * only when that is safe (see {@link FallbackStore}); otherwise it rejects with the first store's
   * error. Never resolves with bytes of a blob whose size differs from `info.size`.
   */
  async read(info: FallbackBlobInfo, off: number, len: number, signal?: AbortSignal): Promise<Uint8Array> {
    const first = this.names.indexOf(info.store)
    if (first < 0) throw new TypeError(`store ${info.store} is not in this chain`)
    const moved = this.#rerouted.get(info)
    // A search still pending may find nothing: then this read tries the info's own store after all.
    const to = moved === undefined ? undefined : await moved
    if (to !== undefined) return this.#readRerouted(to, off, len, signal)
    try {
      return await this.#stores[first]!.store.read(info.inner, off, len, signal)
    } catch (err) {
      if (this.#aborted(err, signal)) throw err
      this.#failed(info.store, err)
      if (info.sha256 === undefined) {
        this.stats.refused.undeclared++
        throw err
      }
      let search = this.#rerouted.get(info)
      if (search === undefined) {
        // Reads of one download that fail together share one search. It is not given this read's
        // signal: one reader going away must not decide for the others (each store bounds its own
        // stats with its timeouts).
        search = this.#findAlternate(info, first)
        this.#rerouted.set(info, search)
      }
      const to = await search
      if (to === undefined) {
        // Not remembered: the info's own store may fail only for a moment, and a stat cache may give
        // this same info to many downloads, which must not all fail until it expires.
        if (this.#rerouted.get(info) === search) this.#rerouted.delete(info)
        throw err
      }
      this.#count(info.store, err)
      this.stats.readReroutes++
      if (signal?.aborted) throw abortError(signal)
      return this.#readRerouted(to, off, len, signal)
    }
  }

  /**
   * #findAlternate finds the first store after `first` whose blob has the size `info` describes and,
   * when verifying, hashes to the declared digest (see {@link FallbackStoreOptions.verifyReroutes}).
   * It never rejects: a store that fails is passed over.
   */
  async #findAlternate(info: FallbackBlobInfo, first: number): Promise<Rerouted | undefined> {
    let sizeDiffers = false
    let digestDiffers = false
    for (let index = first + 1; index < this.#stores.length; index++) {
      const { name, store } = this.#stores[index]!
      let inner: BlobInfo
      try {
        inner = await store.stat(info.key)
      } catch (err) {
        this.#failed(name, err)
        continue
      }
      if (inner.size !== info.size) {
        sizeDiffers = true
        continue
      }
      if (this.#verify) {
        // A settling blob may still change under the hash: nothing about it can be proven.
        if (inner.version === undefined) continue
        let matches: boolean
        try {
          matches = await this.#matches(index, inner, info.sha256!)
        } catch (err) {
          this.#failed(name, err)
          continue
        }
        if (!matches) {
          digestDiffers = true
          continue
        }
      }
      return { index, inner }
    }
    if (digestDiffers) this.stats.refused.digest++
    else if (sizeDiffers) this.stats.refused.size++
    else this.stats.refused.unavailable++
    return undefined
  }

  /**
   * #matches tells whether the version `inner` of store `index` hashes to `sha256`, reading it in
   * full the first time (shared by concurrent askers); a failed read is not remembered.
   */
  #matches(index: number, inner: BlobInfo, sha256: string): Promise<boolean> {
    const id = `${index}\0${inner.key}\0${inner.version}\0${sha256}`
    let known = this.#verified.get(id)
    if (known === undefined) {
      known = this.#hash(index, inner).then(digest => digest === sha256)
      this.#verified.set(id, known)
      known.catch(() => {
        if (this.#verified.peek(id) === known) this.#verified.delete(id)
      })
    }
    return known
  }

  /** #hash reads the version `inner` of store `index` in full and returns its SHA-256 (hex). */
  async #hash(index: number, inner: BlobInfo): Promise<string> {
    this.stats.verifications++
    const store = this.#stores[index]!.store
    const hash = createHash('sha256')
    // Each read moves at least one byte on, or the loop ends: bounded by the size.
    for (let off = 0; off < inner.size; ) {
      const chunk = await store.read(inner, off, Math.min(VERIFY_READ_BYTES, inner.size - off))
      if (chunk.length === 0) throw new CutoverError('ERR_SHORT_READ', `no bytes at ${off} of ${inner.size}`)
      hash.update(chunk)
      off += chunk.length
    }
    return hash.digest('hex')
  }

  /** #readRerouted reads from the store a download moved to; its failure ends the download. */
  async #readRerouted(to: Rerouted, off: number, len: number, signal?: AbortSignal): Promise<Uint8Array> {
    const { name, store } = this.#stores[to.index]!
    try {
      return await store.read(to.inner, off, len, signal)
    } catch (err) {
      if (!this.#aborted(err, signal)) this.#failed(name, err)
      throw err
    }
  }

  /** #aborted tells an abort (never fallen back on, never a store's fault) from a failure. */
  #aborted(err: unknown, signal: AbortSignal | undefined): boolean {
    return signal?.aborted === true || codeOf(err) === 'ERR_ABORTED'
  }

  /** #failed counts a store's failure unless it is ERR_NOT_FOUND. */
  #failed(name: string, err: unknown): void {
    if (codeOf(err) !== 'ERR_NOT_FOUND') this.stats.errors[name] = (this.stats.errors[name] ?? 0) + 1
  }

  /** #count counts a fallback away from `name` because of `err`. */
  #count(name: string, err: unknown): void {
    const by = this.stats.fallbacks[name]!
    const reason = reasonOf(err)
    by[reason] = (by[reason] ?? 0) + 1
  }
}
