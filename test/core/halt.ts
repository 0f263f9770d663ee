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

t.test('a halt reads as an abort signal does', async t => {
  const h = new Halt()
  t.equal(h.signal, h, 'its signal is itself')
  t.equal(h.aborted, false)
  t.equal(h.reason, undefined)
  h.abort()
  t.match(h.reason, { name: 'AbortError' }, 'no reason given: an AbortError, as AbortController gives')
  // Both kinds are StopSignals to the code that reads them.
  const signals: StopSignal[] = [new Halt(), new AbortController().signal]
  for (const s of signals) {
    let n = 0
    s.addEventListener('abort', () => n++, { once: true })
    if (s instanceof Halt) s.abort('x')
    t.equal(n, s instanceof Halt ? 1 : 0)
  }
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
