import { Worker } from 'node:worker_threads'
import { compileLoaded, type CompiledManifest } from './compile-manifest.js'
import type { WorkerAnswer } from './load-manifest-worker.js'

/**
 * readManifestOffThread is readManifest (compile-manifest.ts) for a server that is serving: the
 * file is read, parsed and checked in a worker thread, so the event loop goes on answering
 * requests meanwhile (a 10,000-payload manifest takes one to two seconds of YAML parsing and schema
 * checks, a stall of every download if done in line); only the route table is built here, from
 * the checked manifest the worker sends back. Same answers as readManifest: the compiled manifest,
 * or the lines of every problem (file:line:column: path: message). Never rejects: a worker that
 * fails (it cannot start, or dies) is a problem line too.
 */
export async function readManifestOffThread(file: string): Promise<{ ok: true; compiled: CompiledManifest } | { ok: false; lines: string[] }> {
  let answer: WorkerAnswer
  try {
    answer = await new Promise<WorkerAnswer>((resolve, reject) => {
      const worker = new Worker(new URL('./load-manifest-worker.js', import.meta.url), { workerData: { file } })
      // The first of these settles the promise; the others then change nothing.
      worker.once('message', resolve)
      worker.once('error', reject)
      worker.once('exit', code => reject(new Error(`the manifest worker exited with code ${code} and no answer`)))
    })
  } catch (err) {
    return { ok: false, lines: [`${file}: cannot load the manifest (${(err as Error).message})`] }
  }
  if (!answer.ok) return { ok: false, lines: [...answer.lines] }
  return { ok: true, compiled: compileLoaded(file, answer.manifest, answer.hash) }
}
