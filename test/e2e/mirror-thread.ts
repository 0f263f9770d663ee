// `cutover mirror` against real servers on loopback, the comparisons in a thread of their own.
import { mirrorCases } from '../helpers/mirror-cases.js'

mirrorCases(true)
