import { Command, InvalidArgumentError, Option } from 'commander'
import { systemClock, type Clock } from '../core/clock.js'
import { parseDuration } from '../manifest/parse-duration.js'
import { parseTime } from '../manifest/parse-time.js'
import { signLink, SigningKeys } from '../payload/signed-link.js'

/** SignFlags are the options of `cutover sign`, parsed. */
export interface SignFlags {
  /** keyId is `--key-id`: the key to sign with. */
  readonly keyId: string
  /** expires is `--expires`: either a duration from now (seconds) or a time (epoch ms). */
  readonly expires: { readonly inSeconds: number } | { readonly at: number }
  /** signingKeys is `--signing-keys`: the keys file's path. */
  readonly signingKeys: string
  /** claim are the `--claim k=v` pairs, in order. */
  readonly claim: ReadonlyArray<readonly [string, string]>
  /** method are the `--method` values; empty means the default, GET. */
  readonly method: readonly string[]
  /** cover are the `--cover` names; if unset, every query parameter of the URL. */
  readonly cover?: readonly string[]
}

/**
 * parseExpires reads `--expires`: a manifest duration from now (`3600`, `90s`, `15m`, `1h`, `7d`)
 * or an RFC 3339 time with an offset (`2026-12-31T00:00:00Z`).
 */
export function parseExpires(s: string): SignFlags['expires'] {
  const at = parseTime(s)
  if (at !== undefined) return { at }
  const seconds = parseDuration(/^[0-9]+$/.test(s) ? Number(s) : s)
  if (typeof seconds === 'number' && seconds > 0) return { inSeconds: seconds }
  throw new InvalidArgumentError(`expected a duration such as 1h or 7d, or an RFC 3339 time; got ${JSON.stringify(s)}`)
}

/** parseClaim reads one `--claim k=v` (k not empty; v may be empty and may hold '='). */
function parseClaim(s: string, previous: ReadonlyArray<readonly [string, string]> = []): Array<readonly [string, string]> {
  const i = s.indexOf('=')
  if (i <= 0) throw new InvalidArgumentError(`expected k=v, got ${JSON.stringify(s)}`)
  return [...previous, [s.slice(0, i), s.slice(i + 1)]]
}

/** collect gathers a repeated option's values. */
const collect = (v: string, previous: readonly string[] = []): string[] => [...previous, v]

/**
 * signUrl is `cutover sign URL ...`: the signed URL for `url` (see payload/signed-link.ts), the
 * expiry taken from `clock` when it is a duration. It rejects (TypeError) when the keys file or an
 * option is bad.
 */
export async function signUrl(url: string, f: SignFlags, clock: Clock = systemClock): Promise<string> {
  const keys = await SigningKeys.load(f.signingKeys)
  const expiresAt = 'at' in f.expires ? f.expires.at : clock.now() + f.expires.inSeconds * 1000
  return signLink(url, { keyId: f.keyId, expiresAt, claims: f.claim, methods: f.method.length > 0 ? f.method : undefined, cover: f.cover }, keys)
}

/** register adds `cutover sign`. */
export function register(program: Command): void {
  program
    .command('sign')
    .description('print a signed link for URL (for payloads whose acl says signed: true)')
    .argument('<url>', 'the URL or path to sign, e.g. https://dl.example/sdk/1.2/tools-linux.zip or /sdk/1.2/tools-linux.zip')
    .requiredOption('--key-id <id>', 'the id of the signing key in the keys file')
    .addOption(new Option('--expires <when>', 'a duration from now (90s, 15m, 1h, 7d) or an RFC 3339 time').argParser(parseExpires).makeOptionMandatory())
    .requiredOption('--signing-keys <file>', 'the keys file: {"keys": {"<id>": "<base64 secret of at least 32 bytes>"}}')
    .addOption(new Option('--claim <k=v>', 'a claim to carry and sign (repeatable)').argParser(parseClaim).default([]))
    .addOption(new Option('--method <method>', 'an allowed method (repeatable; GET allows HEAD); default GET').argParser(collect).default([]))
    .addOption(new Option('--cover <name>', 'a query parameter of URL the signature covers (repeatable); default every one').argParser(collect))
    .action(async (url: string, f: SignFlags) => {
      try {
        process.stdout.write(`${await signUrl(url, f)}\n`)
      } catch (err) {
        process.stderr.write(`cutover sign: ${err instanceof Error ? err.message : String(err)}\n`)
        process.exitCode = 2
      }
    })
}
