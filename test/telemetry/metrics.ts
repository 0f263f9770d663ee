import t from 'tap'
import { Registry } from 'prom-client'
import { Metrics } from '../../src/telemetry/metrics.js'

t.test('metrics read their owner\'s numbers at scrape time, on the registry given', async t => {
  const registry = new Registry()
  const m = new Metrics(registry)
  const stats = { n: 0, load: 0.25, byKind: {} as Record<string, number> }
  m.counter('x_total', 'X.', () => stats.n)
  m.gauge('x_load', 'Load.', () => stats.load)
  m.labelledCounter('x_by_kind_total', 'By kind.', 'kind', () => stats.byKind)
  const h = m.histogram('x_seconds', 'Seconds.', [0.1, 1])
  const lines = async (): Promise<string[]> => (await registry.metrics()).split('\n').filter(l => l !== '' && !l.startsWith('#'))
  t.strictSame((await lines()).slice(0, 2), ['x_total 0', 'x_load 0.25'], 'before anything is counted')
  stats.n = 3
  stats.byKind = { a: 2, b: 1 }
  stats.load = 0.5
  h.observe(0.5)
  const got = await lines()
  for (const want of ['x_total 3', 'x_load 0.5', 'x_by_kind_total{kind="a"} 2', 'x_by_kind_total{kind="b"} 1', 'x_seconds_count 1', 'x_seconds_bucket{le="1"} 1'])
    t.ok(got.includes(want), want)
  t.equal((await lines()).filter(l => l === 'x_total 3').length, 1, 'a second scrape shows the same number, not twice it')
  t.notMatch(await new Registry().metrics(), /x_/, 'another registry holds nothing of it')
})

t.test('info: a gauge of 1 whose labels are read at scrape time', async t => {
  const registry = new Registry()
  const m = new Metrics(registry)
  let hash = 'aaa'
  m.info('x_config_info', 'the configuration in use', () => ({ file: 'a.yaml', sha256: hash }))
  const samples = async (): Promise<string[]> => (await registry.metrics()).split('\n').filter(l => l.startsWith('x_config_info'))
  t.strictSame(await samples(), ['x_config_info{file="a.yaml",sha256="aaa"} 1'])
  hash = 'bbb'
  t.strictSame(await samples(), ['x_config_info{file="a.yaml",sha256="bbb"} 1'], 'one sample: the old labels are gone')
})
