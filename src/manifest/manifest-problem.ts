/** ManifestProblem is one thing wrong with a manifest, where it is, in words a person can act on. */
export interface ManifestProblem {
  /** file is the file name the caller gave loadManifest (used only in messages). */
  readonly file: string
  /** line is the 1-based line of the problem in the text. */
  readonly line: number
  /** column is the 1-based column (in UTF-16 code units, as editors on the web count) of the problem. */
  readonly column: number
  /**
   * path names the field, like `payloads[3].reveal` or `defaults.headers.X-Foo` (a key that is not
   * letters, digits, `_` and `-` is quoted: `headers["X Foo"]`); empty for the document as a whole
   * and for YAML syntax errors.
   */
  readonly path: string
  /** message is a plain sentence: `unknown field 'revael' (did you mean 'reveal'?)`. */
  readonly message: string
}

/** formatProblem renders a problem as `file:line:column: path: message` (without `path: ` when the path is empty). */
export function formatProblem(p: ManifestProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path === '' ? '' : `${p.path}: `}${p.message}`
}

/** compareProblems orders problems by line, then column, then path and message (so the order is total). */
export function compareProblems(a: ManifestProblem, b: ManifestProblem): number {
  return a.line - b.line || a.column - b.column || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)
}
