import { compileManifest, type CompiledManifest } from '../../src/manifest/compile-manifest.js'

/** compiled compiles a manifest text as from `file`, throwing (failing the test run) on any problem. */
export function compiled(text: string, file = 'test.yaml'): CompiledManifest {
  const r = compileManifest(text, file)
  if (!r.ok) throw new Error(`bad test manifest: ${JSON.stringify(r.problems)}`)
  return r.compiled
}
