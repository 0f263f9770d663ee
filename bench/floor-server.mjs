#!/usr/bin/env node
// The floor of the slow-readers memory row: Node's own HTTP server with the libraries that
// `cutover serve` loads (commander, pino, lru-cache, mime-types) loaded, holding every request
// unanswered. Its RSS under the slow readers is what any Node server built on these parts uses
// before it reads or buffers a byte; `cutover serve`'s buffer budget comes on top of it.
// Usage: node bench/floor-server.mjs PORT. Plain Node ESM.
import 'commander';
import 'pino';
import 'lru-cache';
import 'mime-types';
import http from 'node:http';

const port = Number(process.argv[2]);
if (!(port > 0)) throw new Error('usage: floor-server.mjs PORT');
const held = [];
http.createServer((req, res) => held.push(res)).listen(port, '127.0.0.1');
