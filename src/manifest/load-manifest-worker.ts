/**
 * The worker thread of {@link readManifestOffThread} (read-manifest-off-thread.ts): it reads one
 * manifest file, parses and checks it (YAML, the JSON Schema, the rules, the path patterns), and
 * posts back a {@link WorkerAnswer}. It exits when done; it holds no state between manifests.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { readFile } from 'node:fs/promises'
import { patternHooks } from './compile-manifest.js'
import { formatProblem, loadManifest } from './load-manifest.js'
import type { Manifest } from './manifest.js'

/** WorkerAnswer is what the worker posts: the checked manifest and the SHA-256 of its text, or the lines of its problems. */
export type WorkerAnswer = { readonly ok: true; readonly manifest: Manifest; readonly hash: string } | { readonly ok: false; readonly lines: readonly string[] }

/** answerFor reads, parses and checks one manifest file; never throws. */
async function answerFor(file: string): Promise<WorkerAnswer> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return { ok: false, lines: [`${file}: cannot read the manifest${code ? ` (${code})` : ''}`] }
  }
  try {
    const r = loadManifest(text, file, patternHooks())
    return r.ok ? { ok: true, manifest: r.manifest, hash: r.hash } : { ok: false, lines: r.problems.map(formatProblem) }
  } catch (err) {
    // Not the manifest's fault: the schema could not be read or compiled (an incomplete
    // installation). Its own message names the schema file; "cannot read the manifest" would send
    // the user looking at a file that is there.
    return { ok: false, lines: [`${file}: cannot check the manifest: ${(err as Error).message}`] }
  }
}

parentPort?.postMessage(await answerFor((workerData as { file: string }).file))
