import { readFileSync } from 'node:fs'
import { DEFAULT_RULES, parseRules, type Rules } from '../audit/rules.js'

// Apart from the option parsers (options.ts) so that `cutover serve`, which takes no rules, does not
// load the YAML parser.
/**
 * loadRules reads a --rules file; without one, every difference counts (DEFAULT_RULES). A missing
 * file or a bad rule throws an error naming the file (and the line and field).
 */
export function loadRules(file: string | undefined): Rules {
  if (file === undefined) return DEFAULT_RULES
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new Error(`--rules ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message}`)
  }
  return parseRules(text, file) // its errors name the file and the field
}
