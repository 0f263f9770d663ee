import t from 'tap'
import { believedClient, clientAddress, inNetwork, NetworkSet, parseAddress, parseWithIpaddr } from '../../src/payload/client-address.js'
import { parseNetwork } from '../../src/manifest/parse-network.js'
import type { Network } from '../../src/manifest/manifest.js'

const net = (s: string): Network => {
  const n = parseNetwork(s)
  if (typeof n === 'string') throw new Error(`${s}: ${n}`)
  return n
}

t.test('parseAddress: addresses only, IPv4-mapped IPv6 as IPv4', async t => {
  const cases: Array<[string, string | undefined]> = [
    ['192.0.2.1', '192.0.2.1'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::ffff:c000:201', '192.0.2.1'],
    ['::1', '::1'],
    ['192.0.2.1:8080', undefined],
    ['[2001:db8::1]', undefined],
    ['fe80::1%eth0', undefined],
    ['10.1', undefined],
    ['0x0a.0.0.1', undefined],
    ['010.0.0.1', undefined],
    ['unknown', undefined],
    ['', undefined],
    ['10.0.0.0/8', undefined],
  ]
  for (const [text, want] of cases) t.equal(parseAddress(text)?.text, want, JSON.stringify(text))
})

t.test('inNetwork: families, prefixes, mapped networks and addresses', async t => {
  const cases: Array<[string, string, boolean]> = [
    ['10.1.2.3', '10.0.0.0/8', true],
    ['11.1.2.3', '10.0.0.0/8', false],
    ['10.1.2.3', '10.1.2.3', true],
    ['10.1.2.4', '10.1.2.3', false],
    ['192.0.2.200', '192.0.2.128/25', true],
    ['192.0.2.127', '192.0.2.128/25', false],
    ['1.2.3.4', '0.0.0.0/0', true],
    ['::ffff:10.1.2.3', '10.0.0.0/8', true],
    ['10.1.2.3', '::ffff:10.0.0.0/104', true],
    ['11.1.2.3', '::ffff:10.0.0.0/104', false],
    ['10.1.2.3', '::/0', false],
    ['2001:db8::1', '0.0.0.0/0', false],
    ['2001:db8:ffff::1', '2001:db8::/32', true],
    ['2001:db9::1', '2001:db8::/32', false],
    ['2001:db8::1', '2001:db8::1', true],
  ]
  for (const [a, n, want] of cases) t.equal(inNetwork(parseAddress(a)!, net(n)), want, `${a} in ${n}: ${want}`)
})

t.test('NetworkSet: text or parsed networks; bad text throws TypeError', async t => {
  const s = new NetworkSet(['10.0.0.0/8', net('2001:db8::/32')])
  t.ok(s.has('10.9.9.9'))
  t.ok(s.has('2001:db8::5'))
  t.notOk(s.has('192.0.2.1'))
  t.notOk(s.has('not an address'))
  t.notOk(s.has(undefined))
  t.notOk(new NetworkSet().has('10.0.0.1'), 'an empty set has nothing')
  t.throws(() => new NetworkSet(['10.0.0.1/8']), TypeError, 'host bits set')
  t.throws(() => new NetworkSet(['example.com']), TypeError)
})

t.test('clientAddress: X-Forwarded-For believed only through trusted proxies, walked right to left', async t => {
  const trusted = new NetworkSet(['10.0.0.0/8', '2001:db8:ffff::/48'])
  const cases: Array<[string, string, string | string[] | undefined, string]> = [
    ['no header: the peer', '192.0.2.1', undefined, '192.0.2.1'],
    ['untrusted peer: its own XFF is ignored (spoofing gains nothing)', '192.0.2.1', '10.0.0.1', '192.0.2.1'],
    ['untrusted peer with a spoofed allowed address', '198.51.100.7', '203.0.113.9, 10.1.1.1', '198.51.100.7'],
    ['trusted peer: the last entry', '10.0.0.5', '203.0.113.9', '203.0.113.9'],
    ['recursion: skip trusted entries from the right', '10.0.0.5', '203.0.113.9, 10.2.2.2, 10.3.3.3', '203.0.113.9'],
    ['the first untrusted from the right, not the leftmost (a client-written prefix)', '10.0.0.5', '1.1.1.1, 203.0.113.9, 10.2.2.2', '203.0.113.9'],
    ['all trusted: the leftmost', '10.0.0.5', '10.9.9.9, 10.8.8.8', '10.9.9.9'],
    ['malformed last entry: the peer', '10.0.0.5', '203.0.113.9, garbage', '10.0.0.5'],
    ['malformed after a trusted one: the last trusted', '10.0.0.5', '203.0.113.9, unknown, 10.2.2.2', '10.2.2.2'],
    ['a port is malformed', '10.0.0.5', '203.0.113.9:4711', '10.0.0.5'],
    ['empty list elements are ignored (RFC 9110 5.6.1)', '10.0.0.5', ' , 203.0.113.9 ,, ', '203.0.113.9'],
    ['an empty header: the peer', '10.0.0.5', '', '10.0.0.5'],
    ['several field lines joined in order (RFC 9110 5.3)', '10.0.0.5', ['203.0.113.9', '10.2.2.2'], '203.0.113.9'],
    ['several field lines: the last line is rightmost', '10.0.0.5', ['10.2.2.2', '203.0.113.9'], '203.0.113.9'],
    ['IPv4-mapped peer is trusted as IPv4', '::ffff:10.0.0.5', '203.0.113.9', '203.0.113.9'],
    ['IPv4-mapped untrusted peer is given as IPv4', '::ffff:192.0.2.1', '10.0.0.1', '192.0.2.1'],
    ['IPv4-mapped entries are IPv4 and trusted as such', '10.0.0.5', '203.0.113.9, ::ffff:10.2.2.2', '203.0.113.9'],
    ['an IPv4-mapped client is given as IPv4', '10.0.0.5', '::ffff:203.0.113.9', '203.0.113.9'],
    ['IPv6 trusted peer and IPv6 client', '2001:db8:ffff::1', '2001:DB8:1::0:7', '2001:db8:1::7'],
    ['IPv6 untrusted peer', '2001:db8:1::1', '203.0.113.9', '2001:db8:1::1'],
    ['a peer already gone', '', '203.0.113.9', ''],
  ]
  for (const [name, peer, xff, want] of cases) t.equal(clientAddress(peer, xff, trusted), want, name)
})

t.test('clientAddress: with no trusted proxies XFF is never believed', async t => {
  t.equal(clientAddress('127.0.0.1', '203.0.113.9', new NetworkSet()), '127.0.0.1')
})

t.test('parseAddress: the hand-written IPv4 paths agree with ipaddr.js on every input of the table', async t => {
  const inputs = [
    '127.0.0.1', '0.0.0.0', '255.255.255.255', '1.2.3.4', '10.0.0.255', '256.1.1.1', '1.2.3.256', '1.2.3', '1.2.3.4.5',
    '01.2.3.4', '1.02.3.4', '1.2.3.00', '1.2.3.0', '00.0.0.0', '1..3.4', '.1.2.3', '1.2.3.', '1.2.3.4 ', ' 1.2.3.4',
    '1.2.3.4\n', '1.2.3.-4', '1.2.3.+4', '1.2.3.4x', '9999999999.1.1.1', '0x7f.0.0.1', '1e2.0.0.1', '١.٢.٣.٤', '',
    '::ffff:127.0.0.1', '::ffff:1.2.3.256', '::ffff:01.2.3.4', '::FFFF:1.2.3.4', '0:0:0:0:0:ffff:1.2.3.4',
    '::ffff:7f00:1', '::ffff:', '::ffff:1.2.3', '::1', '2001:db8::1', '::', 'fe80::1%eth0', '[::1]', '::ffff:1.2.3.4:80',
  ]
  for (const input of inputs) t.strictSame(parseAddress(input), parseWithIpaddr(input), JSON.stringify(input))
})

t.test('believedClient: the address with its text, the raw peer when it does not parse', async t => {
  const trusted = new NetworkSet(['127.0.0.0/8'])
  const rows: ReadonlyArray<readonly [string, string | undefined, string, number[] | undefined]> = [
    ['127.0.0.1', '203.0.113.9', '203.0.113.9', [203, 0, 113, 9]],
    ['::ffff:127.0.0.1', '203.0.113.9, 127.0.0.5', '203.0.113.9', [203, 0, 113, 9]],
    ['198.51.100.1', '203.0.113.9', '198.51.100.1', [198, 51, 100, 1]],
    ['not an address', '203.0.113.9', 'not an address', undefined],
  ]
  for (const [peer, xff, text, bytes] of rows) {
    const b = believedClient(parseAddress(peer), peer, xff, trusted)
    t.equal(b.text, text, `${peer} + ${xff}: ${text}`)
    t.strictSame(b.address?.bytes, bytes)
    t.equal(b.text, clientAddress(peer, xff, trusted), 'the same as clientAddress')
  }
})
