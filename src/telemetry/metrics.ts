import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/**
 * Metrics creates Prometheus metrics on one prom-client Registry, the one given (never
 * prom-client's global registry: two instances in one process, or two tests, never share a
 * metric). Counters and gauges read their value at scrape time from the owner's own counters
 * (`read`), so the number a metric shows and the number a summary prints are the same number and
 * cannot drift; histograms are observed directly. Serve it with a MetricsServer.
 */
export class Metrics {
  readonly registry: Registry

  constructor(registry: Registry) {
    this.registry = registry
  }

  /** counter registers a counter whose value is `read()` at each scrape (it must never decrease). */
  counter(name: string, help: string, read: () => number): Counter {
    return new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset()
        this.inc(read())
      },
    })
  }

  /**
   * labelledCounter registers a counter with one label, whose values are `read()` at each scrape:
   * label value → count (a label value missing from the record has no sample).
   */
  labelledCounter(
    name: string,
    help: string,
    label: string,
    read: () => Readonly<Partial<Record<string, number>>>,
  ): Counter<string> {
    return this.samplesCounter(name, help, [label], function* () {
      for (const [value, n] of Object.entries(read())) if (n !== undefined) yield [{ [label]: value }, n] as const
    })
  }

  /**
   * labelledGauge registers a gauge with one label, whose values are `read()` at each scrape: label
   * value → value.
   */
  labelledGauge(name: string, help: string, label: string, read: () => Readonly<Partial<Record<string, number>>>): Gauge<string> {
    return new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        this.reset()
        for (const [value, n] of Object.entries(read())) if (n !== undefined) this.set({ [label]: value }, n)
      },
    })
  }

  /**
   * samplesCounter registers a counter with several labels, whose samples are `read()` at each
   * scrape: each a record of label values and the count.
   */
  samplesCounter(name: string, help: string, labels: readonly string[], read: () => Iterable<readonly [Readonly<Record<string, string>>, number]>): Counter<string> {
    return new Counter({
      name,
      help,
      labelNames: [...labels],
      registers: [this.registry],
      collect() {
        this.reset()
        for (const [values, n] of read()) this.inc(values, n)
      },
    })
  }

  /** gauge registers a gauge whose value is `read()` at each scrape. */
  gauge(name: string, help: string, read: () => number): Gauge {
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read())
      },
    })
  }

  /**
   * info registers a gauge of value 1 whose labels are `read()` at each scrape (the Prometheus
   * "info" idiom): a fact that is text, such as the hash of a configuration in use. The label names
   * are those of the first read.
   */
  info(name: string, help: string, read: () => Readonly<Record<string, string>>): Gauge<string> {
    return new Gauge({
      name,
      help,
      labelNames: Object.keys(read()),
      registers: [this.registry],
      collect() {
        this.reset()
        this.set(read(), 1)
      },
    })
  }

  /** histogram registers a histogram with these bucket upper bounds (seconds, say); the owner observes it. */
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return new Histogram({ name, help, buckets: [...buckets], registers: [this.registry] })
  }
}
