// The counters endpoint of the bench's node:http floor mirrors (floor-mirror, reader-floor-mirror).

/**
 * answerCounters answers a floor mirror's `GET /__floor`: `counts` as JSON, after setting
 * `counts.every` from `?every=N` when N is a whole number from 1 (the harness sets each row's share
 * with it). Returns true when it answered, false for any other request.
 */
export function answerCounters(req, res, counts) {
  if (!req.url.startsWith('/__floor')) return false;
  const n = Number(new URL(req.url, 'http://x').searchParams.get('every') ?? counts.every);
  if (Number.isInteger(n) && n >= 1) counts.every = n;
  res.end(JSON.stringify(counts));
  return true;
}
