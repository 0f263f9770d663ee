import { statSync, writeFileSync } from 'node:fs'
import { Argument, Command, Option } from 'commander'
import { Chalk } from 'chalk'
import { renderHtml } from '../report/html-report.js'
import { newReadStats, readComparisons } from '../report/read-comparisons.js'
import { DEFAULT_TOP, renderSummary, summarize } from '../report/summary.js'
import { colorLevel, type ColorMode } from './compare.js'
import { parseCount, parseUrl } from './options.js'
import { systemClock } from '../core/clock.js'

interface ReportFlags {
  html?: string
  old?: string
  new?: string
  top: number
  color: ColorMode
}


/** register adds `cutover report` to the program. */
export function register(program: Command): void {
  program
    .command('report')
    .summary('summarise a divergence log (JSONL) on the terminal and as an HTML page')
    .description(
      [
        'Read the comparisons that `mirror --out` or `replay --out` wrote (one JSON per line; .gz files ' +
          'are decompressed) and print a summary: counts by kind, top paths, top differing headers, ' +
          'latency of old and new, and a few examples of each kind with a ready-to-run `cutover compare` command.',
        'When records name the payload that answered them (`replay` of a `serve --manifest` access log), the summary and the HTML report also group them by payload: compared, divergent and the top divergence kinds per payload (at most --top payloads), the records that name none as "(no payload)".',
        'With --html, also write a self-contained HTML report with charts (it loads nothing from the network).',
        'Lines that are not comparisons are counted and listed with file:line, never fatal; so is the broken end of a gzip file (cut short or followed by junk), after every line before it.',
        'Exit status: 0 report printed, 2 usage or input error (such as a missing file).',
      ].join('\n\n'),
    )
    .addArgument(new Argument('<files...>', 'JSONL files of comparisons'))
    .option('--html <file>', 'also write an HTML report to this file')
    .option('--old <url>', 'the old server, for the compare commands (default: "$OLD")', parseUrl)
    .option('--new <url>', 'the new server, for the compare commands (default: "$NEW")', parseUrl)
    .addOption(
      new Option('--top <n>', 'how many paths, headers, rules and payloads to list')
        .default(DEFAULT_TOP)
        .argParser(parseCount(1)),
    )
    .addOption(
      new Option('--color <when>', 'colour the output').choices(['auto', 'always', 'never']).default('auto'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover report divergences.jsonl\n' +
        '  cutover report day1.jsonl day2.jsonl.gz --html report.html --old http://old:80 --new http://new:8080',
    )
    .action(async (files: string[], flags: ReportFlags) => {
      // Check every input first, so that a typo fails before anything is printed.
      for (const f of files) {
        let isFile: boolean
        try {
          isFile = statSync(f).isFile()
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code
          throw new Error(`${f}: ${code === 'ENOENT' ? 'does not exist' : (err as Error).message}`)
        }
        if (!isFile) throw new Error(`${f}: not a file`)
      }
      const level = colorLevel(flags.color, process.stdout.isTTY === true, process.env.NO_COLOR)
      const text = await runReport(files, flags, new Chalk({ level }), new Date(systemClock.now()))
      process.stdout.write(text)
      process.exitCode = 0
    })
}

/** runReport reads the files, prints nothing itself, writes the HTML file if asked, and returns the text. */
async function runReport(
  files: readonly string[],
  f: ReportFlags,
  chalk: InstanceType<typeof Chalk>,
  now: Date,
): Promise<string> {
  const stats = newReadStats()
  const summary = await summarize(readComparisons(files, { stats }), { top: f.top })
  const badLines = { count: stats.badLines, first: stats.bad }
  let text = renderSummary(summary, { chalk, oldUrl: f.old, newUrl: f.new, badLines, files })
  if (f.html !== undefined) {
    const page = renderHtml(summary, {
      files,
      generatedAt: now.toISOString(),
      oldUrl: f.old,
      newUrl: f.new,
      badLines,
    })
    try {
      writeFileSync(f.html, page)
    } catch (err) {
      throw new Error(`--html ${f.html}: ${(err as Error).message}`)
    }
    text += `\n${chalk.bold('HTML report:')} ${f.html}\n`
  }
  return text
}
