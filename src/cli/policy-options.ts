import { Option, type Command } from 'commander'
import { ManifestAccessPolicy } from '../payload/access-policy.js'
import { GeoLookup } from '../payload/geo-lookup.js'
import { SigningKeys } from '../payload/signed-link.js'

/** PolicyFlags are the inputs of a manifest's access rules, as `serve` and `manifest resolve` read them. */
export interface PolicyFlags {
  trustedProxies: string[]
  geoip?: string
  countryHeader?: string
  identityHeader?: string
  userTypeHeader?: string
  signingKeys?: string
}

/** parseList reads a comma-separated list, empty items dropped. */
function parseList(s: string): string[] {
  return s.split(',').map(x => x.trim()).filter(x => x !== '')
}

/** addPolicyOptions adds the access-rule flags (--trusted-proxies, --geoip, ...) to a command. */
export function addPolicyOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--trusted-proxies <cidrs>', 'proxies (CIDRs or addresses, comma-separated) whose X-Forwarded-For, country and identity headers are believed').default([], 'none').argParser(parseList))
    .option('--geoip <file>', 'country database (.mmdb: MaxMind GeoIP2/GeoLite2 Country or ip-location-db layout) for countries rules')
    .option('--country-header <name>', "a trusted edge proxy's country header (e.g. CloudFront-Viewer-Country), believed before the database")
    .option('--identity-header <name>', 'the header a trusted auth proxy sets to the user, for users rules')
    .option('--user-type-header <name>', "the header a trusted auth proxy sets to the user's type, for user_types rules")
    .option('--signing-keys <file>', 'keys of signed links (JSON: {"keys": {"<id>": "<base64 secret>"}}), for signed: true')
}

/**
 * accessPolicy builds a manifest's access policy from the flags: trusted proxies, the country
 * database, the edge and identity headers, the signing keys (files read now). Throws an Error
 * naming the flag when a file cannot be read or a value is invalid.
 */
export async function accessPolicy(f: PolicyFlags): Promise<ManifestAccessPolicy> {
  const named = async <T>(flag: string, load: () => Promise<T>): Promise<T> => {
    try {
      return await load()
    } catch (err) {
      throw new Error(`${flag}: ${(err as Error).message}`)
    }
  }
  const geoip = f.geoip
  const signingKeys = f.signingKeys
  const geo = geoip === undefined ? undefined : await named(`--geoip ${geoip}`, () => GeoLookup.open(geoip))
  const keys = signingKeys === undefined ? undefined : await named(`--signing-keys ${signingKeys}`, () => SigningKeys.load(signingKeys))
  return named('access policy', async () =>
    new ManifestAccessPolicy({
      trustedProxies: f.trustedProxies,
      ...(geo ? { geo } : {}),
      ...(keys ? { keys } : {}),
      ...(f.countryHeader !== undefined ? { countryHeader: f.countryHeader } : {}),
      ...(f.identityHeader !== undefined ? { identityHeader: f.identityHeader } : {}),
      ...(f.userTypeHeader !== undefined ? { userTypeHeader: f.userTypeHeader } : {}),
    }),
  )
}
