// `cutover mirror` against real servers on loopback, the comparisons on the client path's thread.
import { mirrorCases } from '../helpers/mirror-cases.js'

mirrorCases(false)
