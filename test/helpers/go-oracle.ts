import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { REPO, requireTool, spawnListening, type T } from './serve.js'

/** ORACLE_SRC is the Go oracle: http.ServeContent on a directory, served by Go's net/http server. */
export const ORACLE_SRC = `${REPO}test/e2e/go-oracle`

/**
 * GO_CACHE is the Go build cache shared by the tests that build the oracle, so that only the first
 * build of a run compiles net/http (Go's cache is safe for concurrent builds).
 */
const GO_CACHE = `${REPO}.tap/go-cache`

/**
 * startGoOracle builds the Go oracle (offline, with the local toolchain) and serves `root` with it
 * on 127.0.0.1:0; the process is killed at teardown. Resolves with its URL, or with undefined when
 * Go is not installed (the test is then skipped, or failed under CUTOVER_REQUIRE_TOOLS=1, by
 * requireTool). A failed build throws.
 */
export async function startGoOracle(t: T, root: string): Promise<string | undefined> {
  if (!requireTool(t, 'go')) return undefined
  mkdirSync(join(REPO, '.tap'), { recursive: true })
  const work = mkdtempSync(join(REPO, '.tap', 'go-oracle-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))
  const bin = join(work, 'oracle')
  const built = spawnSync('go', ['build', '-o', bin, '.'], {
    cwd: ORACLE_SRC,
    env: {
      ...process.env,
      GOCACHE: GO_CACHE,
      GOPATH: join(work, 'gopath'),
      GOFLAGS: '-mod=mod',
      GOPROXY: 'off',
      GOTOOLCHAIN: 'local',
      GOENV: 'off',
    },
    encoding: 'utf8',
    timeout: 120_000,
  })
  if (built.status !== 0) throw new Error(`go build of the oracle failed (${built.error?.message ?? `exit ${built.status}`}): ${built.stderr}`)
  const { url } = await spawnListening(t, bin, ['-root', root, '-listen', '127.0.0.1:0'], 'go oracle')
  return url
}
