import { ChunkCache } from '../cache/chunk-cache.js'
import type { Clock } from '../core/clock.js'
import type { BlobSource } from '../payload/blob-source.js'
import { remoteBlobSource } from '../payload/remote-blob-source.js'
import type { Allocate, BlobStore } from '../storage/blob-store.js'
import { FallbackStore } from '../storage/fallback-store.js'
import { FileStore } from '../storage/file-store.js'
import { InstrumentedStore, type StoreLatency } from '../storage/instrumented-store.js'
import { StatCache } from '../storage/stat-cache.js'
import type { StoreSpec } from './store-url.js'

/** StoreFlags are the serve flags that say where blobs come from and how they are cached. */
export interface StoreFlags {
  readonly s3Endpoint?: string | undefined
  readonly s3Region: string
  readonly s3PathStyle: boolean
  readonly storeTimeout: number
  readonly storeRetries: number
  readonly statTtl: number
  readonly chunkSize: number
  readonly prefetch: number
  readonly dotfiles: boolean
  readonly settleTime: number
}

/**
 * LatencyRelay hands store durations to a histogram made later: the stores are built before
 * prom-client is loaded (only with --metrics-listen), so each gets a hook that forwards once a
 * target is set, and drops durations until then.
 */
export class LatencyRelay {
  target: ((store: string) => StoreLatency) | undefined
  readonly #hooks = new Map<string, StoreLatency>()

  /** forStore is the hook of store `name`. */
  forStore(name: string): StoreLatency {
    let hook = this.#hooks.get(name)
    if (hook === undefined) {
      let bound: StoreLatency | undefined
      hook = {
        observe: (op, seconds, error) => {
          if (bound === undefined && this.target) bound = this.target(name)
          bound?.observe(op, seconds, error)
        },
      }
      this.#hooks.set(name, hook)
    }
    return hook
  }
}

/** RemoteStores are the stores of manifest mode when its blobs are not (only) one local directory. */
export interface RemoteStores {
  /** The blobs, as the manifest resolver reads them: through the stat cache and the chunk cache. */
  readonly source: BlobSource
  readonly cache: ChunkCache
  /** Each store of the chain, counted (in order). */
  readonly stores: readonly InstrumentedStore[]
  /** The chain, when there is more than one store. */
  readonly chain: FallbackStore | undefined
  readonly latency: LatencyRelay
  /** What the start line says: the stores in order. */
  readonly describe: string
  /** close gives back the stores' connections. */
  close(): Promise<void>
}

/**
 * remoteStores builds the chain of `specs` (the first asked first, the next on any error: see
 * FallbackStore), each store counted under its kind (`s3`, `http`, `file`; `s3-2` for a second
 * one), behind a stat cache trusted for `--stat-ttl` and a chunk cache of `chunkBytes` in chunks of
 * `--chunk-size`; given `allocate` (--cache-prealloc's ChunkMemory), the stores read into its buffers. Throws for a
 * file store whose directory does not exist (the caller names the flag).
 */
export async function remoteStores(specs: readonly StoreSpec[], f: StoreFlags, chunkBytes: number, clock: Clock, allocate?: Allocate): Promise<RemoteStores> {
  // The AWS SDK warns at its first client, on Node < 22, that its releases after January 2027 will
  // need Node 22. The SDK here is the one package-lock.json pins: moving it past that is a
  // maintainer's step (README, Development), nothing an operator can act on at each start.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  // Each kind's module is loaded only when a store of that kind is named (the AWS SDK is heavy).
  const { S3Store } = specs.some(s => s.kind === 's3') ? await import('../storage/s3-store.js') : { S3Store: undefined }
  const { HttpStore } = specs.some(s => s.kind === 'http') ? await import('../storage/http-store.js') : { HttpStore: undefined }
  const latency = new LatencyRelay()
  const names = new Map<string, number>()
  const closers: Array<() => void | Promise<void>> = []
  const remote = { timeoutMs: f.storeTimeout, retries: f.storeRetries, clock, ...(allocate ? { allocate } : {}) }
  const stores = specs.map(spec => {
    const seen = (names.get(spec.kind) ?? 0) + 1
    names.set(spec.kind, seen)
    const name = seen === 1 ? spec.kind : `${spec.kind}-${seen}`
    let store: BlobStore
    switch (spec.kind) {
      case 'file':
        store = new FileStore({ root: spec.root, dotfiles: f.dotfiles, settleMs: f.settleTime, clock, ...(allocate ? { allocate } : {}) })
        break
      case 's3': {
        const s3 = new S3Store!({
          bucket: spec.bucket,
          prefix: spec.prefix,
          region: f.s3Region,
          forcePathStyle: f.s3PathStyle,
          ...(f.s3Endpoint !== undefined ? { endpoint: f.s3Endpoint } : {}),
          ...remote,
        })
        closers.push(() => s3.close())
        store = s3
        break
      }
      case 'http': {
        const http = new HttpStore!({ origin: spec.base, ...remote })
        closers.push(() => http.close())
        store = http
        break
      }
    }
    return new InstrumentedStore(store, { name, latency: latency.forStore(name), clock })
  })
  const chain = stores.length > 1 ? new FallbackStore({ stores: stores.map(s => ({ name: s.name, store: s })) }) : undefined
  const stats = new StatCache(chain ?? stores[0]!, { ttlMs: f.statTtl, clock })
  const cache = new ChunkCache({ maxBytes: chunkBytes, chunkSize: f.chunkSize })
  return {
    source: remoteBlobSource({ stats, cache, prefetch: f.prefetch }),
    cache,
    stores,
    chain,
    latency,
    describe: specs.map(s => s.url).join(', then '),
    close: async () => {
      await Promise.all(closers.map(c => c()))
    },
  }
}
