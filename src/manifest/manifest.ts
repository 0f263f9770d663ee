/**
 * The types of a loaded payload manifest, fully resolved: defaults applied, times as epoch
 * milliseconds, durations as seconds, networks parsed. `loadManifest` (load-manifest.ts) builds them;
 * nothing here needs the manifest's text any more.
 */

/** Manifest is a loaded, valid manifest: its payloads in declaration order, defaults already applied. */
export interface Manifest {
  /** version is the format version; always 1. */
  readonly version: 1
  /** payloads are the payloads in declaration order (the order breaks ties between equally specific patterns). */
  readonly payloads: readonly Payload[]
}

/** Payload is one downloadable thing with every default applied. */
export interface Payload {
  /** name is the payload's unique name ([A-Za-z0-9._-]{1,128}). */
  readonly name: string
  /** paths are the URL path patterns that serve it, as written, in order (at least one). */
  readonly paths: readonly string[]
  /** content says which blob or blobs hold the bytes. */
  readonly content: PayloadContent
  /** contentType is the Content-Type to send (the payload's, else the default's); if unset, the server picks one. */
  readonly contentType?: string
  /** filename is the file name for Content-Disposition: attachment (the payload's, else the default's); if unset, none is sent. */
  readonly filename?: string
  /** reveal is the time (epoch milliseconds) before which the payload does not exist; if unset, it always existed. */
  readonly reveal?: number
  /** expires is the time (epoch milliseconds, after reveal) from which the payload answers expiredStatus; if unset, never. */
  readonly expires?: number
  /** expiredStatus is the status of a request after expires: the payload's, else the default's, else 404. */
  readonly expiredStatus: 404 | 410
  /**
   * acl is the access control (the payload's as a whole, else the default's), with at least one rule;
   * if unset (none, or an acl without rules such as `acl: {}`), everyone may download.
   */
  readonly acl?: Acl
  /**
   * headers are the custom response header fields: the defaults' merged with the payload's, compared
   * case-insensitively, the payload's value (and spelling) winning; defaults first, in declaration order.
   */
  readonly headers: readonly ManifestHeader[]
  /** cache is the cache policy (the payload's, else the default's); if unset, the server sends no cache fields. */
  readonly cache?: CachePolicy
}

/** PayloadContent is either one blob or the concatenation of several. */
export type PayloadContent = BlobContent | PartsContent

/** BlobContent is a payload served from one blob. */
export interface BlobContent {
  /** kind tells the two forms apart. */
  readonly kind: 'blob'
  /** blob is the blob key template: `{name}` stands for a named segment's value, `{path}` for the request path without its leading slash. */
  readonly blob: string
  /** sha256 is the SHA-256 of the blob's bytes in lower-case hex; if unset, no digest is sent or checked. */
  readonly sha256?: string
}

/** PartsContent is a payload served as the concatenation of blobs, in order. */
export interface PartsContent {
  /** kind tells the two forms apart. */
  readonly kind: 'parts'
  /** parts are the blobs to concatenate, in order (at least one). */
  readonly parts: readonly ContentPart[]
}

/** ContentPart is one blob of a concatenation. */
export interface ContentPart {
  /** blob is the blob key template (the same placeholders as BlobContent.blob). */
  readonly blob: string
  /** sha256 is the SHA-256 of this part's bytes in lower-case hex; if unset, the part is not checked. */
  readonly sha256?: string
}

/** ManifestHeader is one custom response header field. */
export interface ManifestHeader {
  /** name is the field name as written in the manifest (sent as is). */
  readonly name: string
  /** key is the field name in lower case, for comparisons. */
  readonly key: string
  /** value is the field value (no CR, LF, NUL or other control characters but tab). */
  readonly value: string
}

/** CachePolicy is the one cache form a payload uses. */
export type CachePolicy =
  /** Cache-Control: max-age=seconds. */
  | { readonly kind: 'max-age'; readonly seconds: number }
  /** Expires: the request time plus seconds. */
  | { readonly kind: 'expires-in'; readonly seconds: number }
  /** Cache-Control: no-store. */
  | { readonly kind: 'no-store' }

/** Acl is a payload's access control: every rule given must admit a request. */
export interface Acl {
  /** networks limits client addresses; if unset, any address. */
  readonly networks?: AllowDeny<Network>
  /** countries limits client countries (ISO 3166-1 alpha-2 upper case, or `--` for unknown); if unset, any country. */
  readonly countries?: AllowDeny<string>
  /** users limits the user identity header's values; if unset, anyone. */
  readonly users?: AllowDeny<string>
  /** userTypes limits the user type identity header's values; if unset, any type. */
  readonly userTypes?: AllowDeny<string>
  /** signed requires a valid signed link; false when unset. */
  readonly signed: boolean
}

/** AllowDeny is an allow list and a deny list; at least one of them is set. */
export interface AllowDeny<T> {
  /** allow admits only these; if unset, everything not denied is admitted. */
  readonly allow?: readonly T[]
  /** deny refuses these; if unset, nothing is refused by this rule. */
  readonly deny?: readonly T[]
}

/** Network is a parsed CIDR or single address (an IPv4 /32 or an IPv6 /128). */
export interface Network {
  /** source is the text as written in the manifest. */
  readonly source: string
  /** family is the address family as written (an IPv4-mapped IPv6 address is 'ipv6', see ipv4Mapped). */
  readonly family: 'ipv4' | 'ipv6'
  /** address is the network address in its normal form (ipaddr.js toNormalizedString for IPv6, dotted quad for IPv4). */
  readonly address: string
  /** bytes are the network address's bytes (4 for IPv4, 16 for IPv6), for matching without reparsing. */
  readonly bytes: readonly number[]
  /** prefixLength is the number of leading bits that must match (0-32 for IPv4, 0-128 for IPv6). */
  readonly prefixLength: number
  /**
   * ipv4Mapped is true for an IPv6 network inside ::ffff:0:0/96 (IPv4-mapped addresses, RFC 4291
   * section 2.5.5.2): a policy that sees IPv4 clients as IPv4 must convert it (or the client) before matching.
   */
  readonly ipv4Mapped: boolean
}
