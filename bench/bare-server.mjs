#!/usr/bin/env node
// The small-file row's Node ceiling: Node's own HTTP server answering one file's bytes from memory
// with a static server's headers (Content-Type, Content-Length, Last-Modified, Accept-Ranges) and
// nothing else: no routing, no validators, no Range, no logging. What it reaches is the most any
// single-threaded Node server can reach on this machine at that moment; the s3 column's small row
// measures it in every go/s3 pair (bench/suites/serve.mjs), so a pair in which the machine slowed
// the core a Node server runs on shows it.
// Usage: node bench/bare-server.mjs PORT FILE (PORT 0: any free one). Plain Node ESM; prints
// `bare listening on http://127.0.0.1:PORT`.
import fs from 'node:fs';
import http from 'node:http';

const port = Number(process.argv[2]);
const file = process.argv[3];
if (!(port >= 0) || !file) throw new Error('usage: bare-server.mjs PORT FILE');
const body = fs.readFileSync(file);
const headers = {
  'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
  'content-length': body.length,
  'last-modified': fs.statSync(file).mtime.toUTCString(),
  'accept-ranges': 'bytes',
};
const server = http.createServer((req, res) => {
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.listen(port, '127.0.0.1', () => console.log(`bare listening on http://127.0.0.1:${server.address().port}`));
