/** SAFE are the characters a POSIX shell word may hold unquoted with no special meaning anywhere. */
const SAFE = /^[A-Za-z0-9_\/.:=,@%+-]+$/

/** CONTROL matches what a terminal could act on or a single-quoted word could not show on one line. */
const CONTROL = /[\x00-\x1f\x7f-\x9f]/

/**
 * shellQuote quotes `s` as one word for bash, zsh and POSIX sh: unchanged when every character is
 * safe; otherwise in single quotes, where nothing is special, with each `'` written `'\''`. A string
 * holding control characters (newline, ESC ...) is written in ANSI-C quoting instead (`$'...'`,
 * understood by bash, zsh and ksh), with each control character as `\xHH`, so the command stays on
 * one line and cannot send escape sequences to the terminal that shows it. Pure.
 */
export function shellQuote(s: string): string {
  if (SAFE.test(s)) return s
  if (!CONTROL.test(s)) return `'${s.replace(/'/g, `'\\''`)}'`
  let out = "$'"
  for (const ch of s) {
    const code = ch.codePointAt(0)!
    if (ch === '\\' || ch === "'") out += `\\${ch}`
    else if (CONTROL.test(ch)) out += `\\x${code.toString(16).padStart(2, '0')}`
    else out += ch
  }
  return `${out}'`
}

/**
 * printable makes client-supplied text safe to print on a terminal on one line: each control
 * character (C0, DEL, C1) becomes `\xHH`; everything else is kept. Pure.
 */
export function printable(s: string): string {
  return CONTROL.test(s)
    ? s.replace(/[\x00-\x1f\x7f-\x9f]/g, c => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    : s
}
