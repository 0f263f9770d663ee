import t from 'tap'
import { Halt, type StopSignal } from '../../src/core/halt.js'

t.test('a halt aborts once, with its reason, calling each listener once in the order added', async t => {
  const reason = new Error('why')
  // Each row: what is done in order, and what the listeners were called with (their names).
  type Step = 'add a' | 'add b' | 'add a again' | 'remove a' | 'abort' | 'abort again' | 'add c'
  const rows: ReadonlyArray<[string, Step[], string[]]> = [
    ['two listeners, in order', ['add a', 'add b', 'abort'], ['a', 'b']],
    ['a second abort calls nobody', ['add a', 'abort', 'abort again'], ['a']],
    ['a listener added after the abort is never called', ['abort', 'add c'], []],
    ['a listener removed before the abort is not called', ['add a', 'add b', 'remove a', 'abort'], ['b']],
    ['the same listener added twice is one', ['add a', 'add a again', 'abort'], ['a']],
    ['no listener', ['abort'], []],
  ]
  for (const [name, steps, want] of rows) {
    const h = new Halt()
    const called: string[] = []
    const f = { a: () => called.push('a'), b: () => called.push('b'), c: () => called.push('c') }
    for (const s of steps) {
      if (s === 'add a' || s === 'add a again') h.addEventListener('abort', f.a)
      else if (s === 'add b') h.addEventListener('abort', f.b)
      else if (s === 'add c') h.addEventListener('abort', f.c)
      else if (s === 'remove a') h.removeEventListener('abort', f.a)
      else h.abort(s === 'abort' ? reason : new Error('later'))
    }
    t.strictSame(called, want, `${name}: called`)
    t.equal(h.aborted, true, `${name}: aborted`)
    t.equal(h.reason, reason, `${name}: the first reason stays`)
  }
})

t.test('a halt behaves as an AbortController and its signal do, read as a StopSignal', async t => {
  // The same steps on both: what each listener saw, and what the signal says after.
  const makers: ReadonlyArray<[string, () => { signal: StopSignal; abort: (reason?: unknown) => void }]> = [
    ['Halt', () => new Halt()],
    ['AbortController', () => new AbortController()],
  ]
  const seen: Record<string, unknown[]> = {}
  for (const [name, make] of makers) {
    const c = make()
    const got: unknown[] = [c.signal.aborted, c.signal.reason]
    const once = (): number => got.push(`once ${String(c.signal.aborted)}`)
    const removed = (): number => got.push('removed')
    c.signal.addEventListener('abort', once, { once: true })
    c.signal.addEventListener('abort', removed)
    c.signal.removeEventListener('abort', removed)
    c.abort('first')
    c.abort('second')
    c.signal.addEventListener('abort', () => got.push('after'))
    got.push(c.signal.aborted, c.signal.reason)
    const bare = make()
    bare.abort()
    got.push((bare.signal.reason as Error).name)
    seen[name] = got
  }
  t.strictSame(seen.Halt, [false, undefined, 'once true', true, 'first', 'AbortError'], 'a Halt')
  t.strictSame(seen.Halt, seen.AbortController, 'the same as an AbortController')
  const h = new Halt()
  t.equal(h.signal, h, 'its signal is itself')
})

t.test('a listener that throws does not stop the others; the abort then throws its error', async t => {
  const h = new Halt()
  const called: string[] = []
  const boom = new Error('listener failed')
  h.addEventListener('abort', () => called.push('a'))
  h.addEventListener('abort', () => {
    throw boom
  })
  h.addEventListener('abort', () => called.push('c'))
  t.throws(() => h.abort(), boom)
  t.strictSame(called, ['a', 'c'])
  t.equal(h.aborted, true)
})
