/**
 * A plain Node program with no leakwatch code: an HTTP server that keeps
 * every request in a Map on globalThis. Prints `listening on PORT`.
 */

import http from "node:http";

const visits = new Map();
globalThis.visits = visits;
let next = 0;

const server = http.createServer((request, response) => {
  const id = next++;
  visits.set(id, { path: request.url, at: Date.now() });
  response.end(`visits: ${visits.size}\n`);
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening on ${server.address().port}`);
});
