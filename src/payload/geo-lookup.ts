import ipaddr from 'ipaddr.js'
import maxmind, { Reader, type Response } from 'maxmind'
import { parseAddress, type Address } from './client-address.js'

/** UNKNOWN_COUNTRY is the country of an address no database places: loopback, private, absent. */
export const UNKNOWN_COUNTRY = '--'

/**
 * The one record shape that covers both database layouts GeoLookup reads: MaxMind's GeoIP2 /
 * GeoLite2 Country (`country.iso_code`, `registered_country.iso_code`) and ip-location-db's
 * (`country_code`).
 */
interface CountryRecord {
  readonly country?: { readonly iso_code?: unknown }
  readonly registered_country?: { readonly iso_code?: unknown }
  readonly country_code?: unknown
}

/** asCountry returns an ISO 3166-1 alpha-2 code in upper case, or undefined for anything else. */
function asCountry(v: unknown): string | undefined {
  return typeof v === 'string' && /^[A-Za-z]{2}$/.test(v) ? v.toUpperCase() : undefined
}

/**
 * Address ranges that no country database places, answered '--' without asking: a database may
 * still hold a record for them (some map private space to the registrant's country), and a rule
 * about countries must not treat a LAN client as foreign or local by accident.
 */
const NOT_GEOGRAPHIC: ReadonlySet<string> = new Set([
  'unspecified',
  'broadcast',
  'multicast',
  'linkLocal',
  'loopback',
  'private',
  'carrierGradeNat',
  'uniqueLocal',
])

/**
 * GeoLookup maps an IP address to its country with a MaxMind DB (.mmdb) file read by the
 * `maxmind` package. It reads both layouts: MaxMind GeoIP2/GeoLite2 Country or City
 * (`country.iso_code`, falling back to `registered_country.iso_code` for addresses with only a
 * registration country, such as anycast ranges) and ip-location-db (`country_code`).
 *
 * Open it with the async {@link GeoLookup.open} (maxmind 4 has no synchronous open; the file is
 * read once, not watched: a new database means a new GeoLookup) or build it from the file's bytes
 * with {@link GeoLookup.fromBuffer}.
 */
export class GeoLookup {
  readonly #reader: Reader<Response>

  /** Use {@link GeoLookup.open} or {@link GeoLookup.fromBuffer}; `reader` is an open maxmind Reader. */
  constructor(reader: Reader<Response>) {
    this.#reader = reader
  }

  /** open reads the .mmdb file at `path`; it rejects when the file is missing or not a MaxMind DB. */
  static async open(path: string): Promise<GeoLookup> {
    // watchForUpdates stays off: the lookup would change under a running server without a log line.
    return new GeoLookup(await maxmind.open<Response>(path, { watchForUpdates: false }))
  }

  /** fromBuffer builds a lookup over a .mmdb file's bytes; it throws when they are not a MaxMind DB. */
  static fromBuffer(bytes: Buffer): GeoLookup {
    return new GeoLookup(new Reader<Response>(bytes))
  }

  /**
   * country returns the ISO 3166-1 alpha-2 code (upper case) of `address` (text, or parsed by
   * parseAddress: IPv4-mapped IPv6 is looked up as IPv4), or '--' when it is unknown: not an
   * address, loopback, private, link-local or another non-geographic range, or not in the database.
   */
  country(address: string | Address): string {
    const a = typeof address === 'string' ? parseAddress(address) : address
    if (a === undefined) return UNKNOWN_COUNTRY
    if (NOT_GEOGRAPHIC.has(rangeOf(a))) return UNKNOWN_COUNTRY
    let r: CountryRecord | null
    try {
      r = this.#reader.get(a.text) as CountryRecord | null
    } catch {
      // An IPv6 address asked of an IPv4-only database throws: unknown there.
      return UNKNOWN_COUNTRY
    }
    if (r === null) return UNKNOWN_COUNTRY
    return asCountry(r.country?.iso_code) ?? asCountry(r.registered_country?.iso_code) ?? asCountry(r.country_code) ?? UNKNOWN_COUNTRY
  }
}

/** rangeOf names the ipaddr.js range of an address ('unicast', 'private', 'loopback', ...). */
function rangeOf(a: Address): string {
  return ipaddr.fromByteArray([...a.bytes]).range()
}

/**
 * edgeCountry reads a country header set by a trusted edge (CloudFront-Viewer-Country,
 * CF-IPCountry, ...): an ISO 3166-1 alpha-2 code, returned in upper case, or undefined when the
 * field is absent, repeated or not a two-letter code (so the caller can fall back to a database).
 * `XX` and `T1` (Cloudflare's unknown and Tor) are not countries: '--'.
 */
export function edgeCountry(value: string | readonly string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined
  const v = value.trim()
  if (v === '--' || /^(xx|t1)$/i.test(v)) return UNKNOWN_COUNTRY
  return asCountry(v)
}
