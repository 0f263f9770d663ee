// Lists, after `npm test`, the tests that were skipped because a system tool is missing, and the
// one apt-get line that installs them all (`--reset` clears the list before a run).
import { readFileSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const log = fileURLToPath(new URL('../.tap/skipped-tools.log', import.meta.url))
if (process.argv.includes('--reset')) {
  rmSync(log, { force: true })
} else {
  let lines = []
  try {
    lines = readFileSync(log, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l))
  } catch {
    // no file: nothing was skipped
  }
  if (lines.length > 0) {
    const tools = [...new Set(lines.map(l => l.tool))].sort()
    console.log(`\n${lines.length} test(s) skipped because ${tools.join(', ')} ${tools.length > 1 ? 'are' : 'is'} not installed:`)
    for (const l of lines) console.log(`  - ${l.test || '(unnamed)'} [needs ${l.tool}]`)
    console.log('Install every tool the tests use with:\n  apt-get install -y nginx curl wget aria2 unzip python3 golang-go chromium logrotate')
  }
}
