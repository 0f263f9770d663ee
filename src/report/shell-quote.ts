/** SAFE are the characters a POSIX shell word may hold unquoted with no special meaning anywhere. */
const SAFE = /^[A-Za-z0-9_\/.:=,@%+-]+$/

/**
 * CONTROL matches what a terminal could act on, what a single-quoted word could not show on one
 * line, and the Unicode bidirectional controls (U+061C, U+200E-U+200F, U+202A-U+202E,
 * U+2066-U+2069), which reorder how the rest of the line is displayed: a path holding U+202E can
 * make a command read differently from what it runs ("Trojan Source", CVE-2021-42574).
 */
const CONTROL = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/
const CONTROLS = new RegExp(CONTROL.source, 'g')

/** escapeControl writes one CONTROL character as `\xHH` (C0, DEL, C1) or `\uHHHH` (the bidi controls). */
const escapeControl = (c: string): string => {
  const code = c.charCodeAt(0)
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * shellQuote quotes `s` as one word for bash, zsh and POSIX sh: unchanged when every character is
 * safe; otherwise in single quotes, where nothing is special, with each `'` written `'\''`. A string
 * holding control characters (newline, ESC, bidi controls ...) is written in ANSI-C quoting instead
 * (`$'...'`, understood by bash, zsh and ksh), with each control character as `\xHH` or `\uHHHH`, so the command stays on
 * one line and cannot send escape sequences to the terminal that shows it. Pure.
 */
export function shellQuote(s: string): string {
  if (SAFE.test(s)) return s
  if (!CONTROL.test(s)) return `'${s.replace(/'/g, `'\\''`)}'`
  let out = "$'"
  for (const ch of s) {
    if (ch === '\\' || ch === "'") out += `\\${ch}`
    else if (CONTROL.test(ch)) out += escapeControl(ch)
    else out += ch
  }
  return `${out}'`
}

/**
 * printable makes client-supplied text safe to print on a terminal on one line: each control
 * character (C0, DEL, C1) becomes `\xHH` and each bidi control `\uHHHH`; everything else is kept.
 * Pure.
 */
export function printable(s: string): string {
  return CONTROL.test(s) ? s.replace(CONTROLS, escapeControl) : s
}
