// The fields the bench's undici-based floor mirrors (reader-floor-mirror, hash-floor-mirror) pass on,
// each way.

/** Request fields not passed on: the hop-by-hop ones (RFC 9110 §7.6.1) and Host (undici sets its own). */
const REQUEST_SKIP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'trailer', 'host']);

/** Answer fields not passed on: the connection's own, and the framing Node writes again for its client. */
const ANSWER_SKIP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

const without = (skip, raw) => {
  const out = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = String(raw[i]);
    if (!skip.has(name.toLowerCase())) out.push(name, String(raw[i + 1]));
  }
  return out;
};

/** requestFields is a client request's raw fields (name, value, ...) as a floor sends them on. */
export const requestFields = (raw) => without(REQUEST_SKIP, raw);

/** answerFields is an answer's raw fields (strings, or latin1 Buffers from undici) as a floor writes them to its client. */
export const answerFields = (raw) => without(ANSWER_SKIP, raw.map((x) => (typeof x === 'string' ? x : x.toString('latin1'))));
