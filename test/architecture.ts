import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

/** REPO is the repository root (this file runs from dist/test/architecture.js). */
const REPO = fileURLToPath(new URL('../../', import.meta.url))
const SRC = join(REPO, 'src')

/**
 * ALLOWED is the table of the README's Architecture section: which folders of src/ each folder may import. A folder may always import
 * its own files. cli may import anything and nothing may import cli.
 */
const ALLOWED: Record<string, readonly string[] | '*'> = {
  core: [],
  telemetry: ['core'],
  content: ['core'],
  storage: ['core'],
  manifest: ['core'],
  cache: ['core', 'content'],
  http: ['core', 'content'],
  payload: ['core', 'content', 'http', 'storage', 'cache', 'manifest'],
  server: ['core', 'telemetry', 'content', 'http', 'storage', 'cache', 'manifest', 'payload'],
  audit: ['core', 'telemetry', 'http'],
  replay: ['core', 'telemetry', 'http', 'audit'],
  report: ['core', 'telemetry', 'http', 'audit', 'replay'],
  cli: '*',
}

/** stripComments removes block comments and whole-line // comments (strings are left alone). */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
}

/** importsOf returns every module specifier a TypeScript source imports or re-exports. */
export function importsOf(src: string): string[] {
  const code = stripComments(src)
  const out: string[] = []
  const patterns = [
    /(?:^|[;\n])\s*(?:import|export)\s+(?:type\s+)?[^'";]*?\sfrom\s*['"]([^'"]+)['"]/g, // import x from, export * from
    /(?:^|[;\n])\s*import\s*['"]([^'"]+)['"]/g, // side-effect import
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, // dynamic import
  ]
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]!)
  return out
}

/** readsEnvOrArgv tells whether code touches process.env or process.argv. */
export function readsEnvOrArgv(src: string): boolean {
  const code = stripComments(src)
  return (
    /\bprocess\s*\.\s*(env|argv)\b/.test(code) ||
    /\bprocess\s*\[\s*['"`](env|argv)['"`]\s*\]/.test(code) ||
    /\{[^}]*\b(env|argv)\b[^}]*\}\s*=\s*(globalThis\.)?process\b/.test(code)
  )
}

function walk(dir: string): string[] {
  const files: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) files.push(...walk(p))
    else if (e.isFile() && e.name.endsWith('.ts')) files.push(p)
  }
  return files.sort()
}

/** folderOf names the top folder under src/ of an absolute path, or undefined outside src/. */
function folderOf(abs: string): string | undefined {
  const rel = relative(SRC, abs)
  if (rel.startsWith('..') || rel === '') return undefined
  const parts = rel.split(sep)
  return parts.length > 1 ? parts[0] : '(root)'
}

t.test('importsOf finds every kind of import', async t => {
  const cases: Array<[string, string, string[]]> = [
    ['a named import', `import { a } from '../core/errors.js'`, ['../core/errors.js']],
    ['a type import', `import type { A } from './a.js'`, ['./a.js']],
    ['a default and namespace import', `import x, * as y from "node:fs"`, ['node:fs']],
    ['a multi-line import', `import {\n  a,\n  b,\n} from '../http/range.js'`, ['../http/range.js']],
    ['a re-export', `export * from './x.js'\nexport { y } from '../y/y.js'`, ['./x.js', '../y/y.js']],
    ['a side-effect import', `import './polyfill.js'`, ['./polyfill.js']],
    ['a dynamic import', `const m = await import('../cli/index.js')`, ['../cli/index.js']],
    ['an import in a comment', `// import { a } from '../cli/x.js'\n/* import b from '../cli/y.js' */`, []],
    ['no import at all', `export const from = 'x'`, []],
  ]
  for (const [name, src, want] of cases) t.strictSame(importsOf(src).sort(), want.slice().sort(), `${name} is found`)
})

t.test('readsEnvOrArgv finds every way to read the environment or arguments', async t => {
  const cases: Array<[string, boolean]> = [
    ['const p = process.env.PORT', true],
    ['const a = process.argv.slice(2)', true],
    ["const p = process['env']", true],
    ['const { env } = process', true],
    ['const { argv, cwd } = process', true],
    ['process.exitCode = 1', false],
    ['// process.env.X is read by the cli', false],
    ['const environment = 1', false],
  ]
  for (const [src, want] of cases) t.equal(readsEnvOrArgv(src), want, `${JSON.stringify(src)} ${want ? 'reads' : 'does not read'} them`)
})

const files = walk(SRC)

t.test('src has files to check', async t => {
  t.ok(files.length > 0, `${files.length} source files`)
})

t.test('every src folder is in the import table', async t => {
  const folders = [...new Set(files.map(f => folderOf(f)!))].sort()
  for (const folder of folders) t.ok(folder in ALLOWED, `src/${folder} is a known folder`)
})

t.test('imports point one way, as the Architecture section of the README says', async t => {
  for (const file of files) {
    const from = folderOf(file)!
    const allowed = ALLOWED[from]
    const bad: string[] = []
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) {
        // A bare specifier must not reach back into our own tree by package name or path.
        if (spec.startsWith('cutover') || spec.includes('/src/')) bad.push(`${spec} (our code by package path)`)
        continue
      }
      const target = resolve(dirname(file), spec)
      const to = folderOf(target)
      if (to === undefined) {
        bad.push(`${spec} (outside src)`)
        continue
      }
      if (to === from) continue
      if (to === 'cli') bad.push(`${spec} (nothing imports cli)`)
      else if (allowed !== '*' && !(allowed ?? []).includes(to)) bad.push(`${spec} (${from} may not import ${to})`)
    }
    t.strictSame(bad, [], `${relative(REPO, file)} imports only what ${from} may`)
  }
})

t.test('only src/cli reads process.env or process.argv', async t => {
  for (const file of files) {
    if (folderOf(file) === 'cli') continue
    t.notOk(readsEnvOrArgv(readFileSync(file, 'utf8')), `${relative(REPO, file)} does not read process.env or process.argv`)
  }
})

/**
 * mutableModuleState lists the module-level declarations of a source file that hold state a module
 * could change: `let`/`var`, and `const` bindings to a Map, Set, WeakMap, WeakSet, array or object
 * literal that the type system does not make read-only (`as const`, a `Readonly*` or `readonly`
 * annotation, or Object.freeze). Instances are built by cli/ and passed down instead.
 */
export function mutableModuleState(src: string, fileName = 'x.ts'): string[] {
  const sf = ts.createSourceFile(fileName, src, ts.ScriptTarget.ES2022, true)
  const out: string[] = []
  const readonlyType = (d: ts.VariableDeclaration): boolean => {
    const text = d.type?.getText(sf) ?? ''
    return /^(Readonly|readonly\s)/.test(text)
  }
  for (const stmt of sf.statements) {
    if (!ts.isVariableStatement(stmt)) continue
    const list = stmt.declarationList
    const isConst = (list.flags & ts.NodeFlags.Const) !== 0
    for (const d of list.declarations) {
      const name = d.name.getText(sf)
      if (!isConst) {
        out.push(`${name} (let/var)`)
        continue
      }
      const init = d.initializer
      if (init === undefined) continue
      if (ts.isAsExpression(init) && init.type.getText(sf) === 'const') continue
      if (ts.isNewExpression(init)) {
        const callee = init.expression.getText(sf)
        if (callee === 'WeakMap' || callee === 'WeakSet') out.push(`${name} (a ${callee})`)
        else if (['Map', 'Set', 'Array'].includes(callee) && !readonlyType(d)) out.push(`${name} (a mutable ${callee})`)
      } else if (ts.isArrayLiteralExpression(init) || ts.isObjectLiteralExpression(init)) {
        if (!readonlyType(d)) out.push(`${name} (a mutable ${ts.isArrayLiteralExpression(init) ? 'array' : 'object'})`)
      }
    }
  }
  return out
}

t.test('mutableModuleState finds module-level state', async t => {
  const cases: Array<[string, string, string[]]> = [
    ['a let', 'let n = 0', ['n (let/var)']],
    ['a var', 'var n = 0', ['n (let/var)']],
    ['a WeakMap memo', 'const M = new WeakMap<object, string>()', ['M (a WeakMap)']],
    ['a Map registry', 'const R = new Map<string, number>()', ['R (a mutable Map)']],
    ['a read-only Set', "const S: ReadonlySet<string> = new Set(['a'])", []],
    ['an array', 'const A = [1, 2]', ['A (a mutable array)']],
    ['an array as const', 'const A = [1, 2] as const', []],
    ['a readonly array', 'const A: readonly number[] = [1, 2]', []],
    ['an object', "const O: Record<string, number> = { a: 1 }", ['O (a mutable object)']],
    ['a Readonly object', "const O: Readonly<Record<string, number>> = { a: 1 }", []],
    ['a frozen object', 'const O = Object.freeze({ a: 1 })', []],
    ['a primitive', 'const N = 1024', []],
    ['a let inside a function', 'function f() { let n = 0; return n }', []],
  ]
  for (const [name, src, want] of cases) t.strictSame(mutableModuleState(src), want, name)
})

t.test('no module-level mutable state in src', async t => {
  for (const file of files) {
    t.strictSame(mutableModuleState(readFileSync(file, 'utf8'), file), [], `${relative(REPO, file)} keeps no state at module level`)
  }
})
