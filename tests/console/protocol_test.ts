import assert from "node:assert/strict";
import {
  looksLikeHttp,
  parseAuth,
  parseHello,
  parseRequest,
} from "../../console/protocol.ts";

Deno.test("looksLikeHttp() knows request lines of any method token, HTTP/0.9 lines and headers", () => {
  for (
    const line of [
      "GET / HTTP/1.1",
      "GET /index.html?x=1 HTTP/1.0",
      "M-SEARCH * HTTP/1.1",
      "NOTIFY * HTTP/1.1",
      "X1 / HTTP/1.1",
      "BREW /pot HTTP/1.1",
      "get / HTTP/1.1",
      "PRI * HTTP/2.0",
      "GET /",
      "OPTIONS *",
      "M-SEARCH *",
      "PROPFIND /dav",
      "Host: 127.0.0.1:44444",
      "host:x",
    ]
  ) {
    assert.ok(looksLikeHttp(line), line);
  }
});

Deno.test("looksLikeHttp() leaves JSON hellos, tokens and JavaScript alone", () => {
  for (
    const line of [
      '{"op":"hello","version":3}',
      "0123456789abcdef0123456789abcdef",
      "let x = 1",
      "a / b",
      "GET_VALUE / 2",
      "POSTED / 2",
      "x * y",
      "GET",
      "console.log('GET / HTTP/1.1')",
      "hosts: 3",
    ]
  ) {
    assert.ok(!looksLikeHttp(line), line);
  }
});

const NONCE = "0123456789abcdef".repeat(4);

Deno.test("parseHello() takes a version 3 hello with a nonce, or one with the token", () => {
  assert.deepEqual(
    parseHello(`{"op":"hello","version":3,"nonce":"${NONCE}","colors":true}`),
    { op: "hello", version: 3, nonce: NONCE, colors: true },
  );
  // The token itself: any version that ever carried one.
  for (const version of ["", ',"version":1', ',"version":2', ',"version":3']) {
    assert.equal(parseHello(`{"op":"hello","token":"t"${version}}`).token, "t");
  }
  assert.throws(() => parseHello('{"op":"hello","version":1}'), /"token"/);
  assert.throws(
    () =>
      parseHello(`{"op":"hello","version":3,"nonce":"${NONCE}","colors":1}`),
    /"colors"/,
  );
});

Deno.test("parseHello() refuses another version in one line naming the one spoken", () => {
  // A version 2 client: its answer could be relayed, so it is refused.
  assert.throws(
    () => parseHello('{"op":"hello","version":2}'),
    (error: Error) =>
      error.name === "ProtocolError" &&
      error.message ===
        "Unsupported protocol version 2: this console speaks 3 (the client is older than the console: update it)",
  );
  assert.throws(
    () => parseHello(`{"op":"hello","version":4,"nonce":"${NONCE}"}`),
    /^ProtocolError: Unsupported protocol version 4: this console speaks 3$/,
  );
  assert.throws(
    () => parseHello('{"op":"hello","version":"1\\nx"}'),
    /Unsupported protocol version "1\\nx"/,
  );
  assert.throws(
    () => parseHello('{"op":"hello","token":"t","version":9}'),
    /Unsupported protocol version 9/,
  );
});

Deno.test("parseHello() wants a well-formed nonce without a token", () => {
  for (
    const nonce of [
      undefined,
      "",
      NONCE.toUpperCase(),
      NONCE + "0",
      NONCE.slice(1),
      42,
      null,
      ["a"],
    ]
  ) {
    const line = JSON.stringify({ op: "hello", version: 3, nonce });
    assert.throws(() => parseHello(line), /"nonce" must be/, line);
  }
  assert.throws(
    () => parseHello('{"op":"hello"}'),
    /A hello without "token" must say "version": 3 and carry a "nonce"/,
  );
});

Deno.test("parseAuth() takes an endpoint and 64 hex digits and nothing else", () => {
  const answer = "ab".repeat(32);
  for (
    const endpoint of [
      "tcp:127.0.0.1:44444",
      "tcp:[::1]:1",
      "tcp:[2001:db8::1]:65535",
      "unix:/home/op/.leakwatch/console.sock",
    ]
  ) {
    assert.deepEqual(
      parseAuth(JSON.stringify({ op: "auth", endpoint, answer })),
      { op: "auth", endpoint, answer },
    );
  }
  for (
    const line of [
      '{"op":"auth"}',
      `{"op":"auth","answer":"${answer}"}`,
      `{"op":"auth","endpoint":"tcp:127.0.0.1:1","answer":"${
        "AB".repeat(32)
      }"}`,
      `{"op":"auth","endpoint":"tcp:127.0.0.1:1","answer":"${answer}0"}`,
      `{"op":"hello","endpoint":"tcp:127.0.0.1:1","answer":"${answer}"}`,
      JSON.stringify({ op: "auth", endpoint: "localhost:1", answer }),
      JSON.stringify({ op: "auth", endpoint: "unix:relative.sock", answer }),
      JSON.stringify({ op: "auth", endpoint: "unix:/a\nb", answer }),
      JSON.stringify({
        op: "auth",
        endpoint: "unix:/" + "a".repeat(2000),
        answer,
      }),
      JSON.stringify({ op: "auth", endpoint: 44444, answer }),
      "[]",
    ]
  ) {
    assert.throws(() => parseAuth(line), /ProtocolError|must be/, line);
  }
});

Deno.test("parseRequest() passes an eval's format on and refuses other values", () => {
  assert.deepEqual(
    parseRequest('{"op":"eval","id":1,"code":"x","format":"json"}'),
    { op: "eval", id: 1, code: "x", format: "json" },
  );
  assert.deepEqual(parseRequest('{"op":"eval","id":1,"code":"x"}'), {
    op: "eval",
    id: 1,
    code: "x",
  });
  for (const format of ['"yaml"', "1", "null", '"JSON"']) {
    assert.throws(
      () => parseRequest(`{"op":"eval","id":7,"code":"x","format":${format}}`),
      (error: Error & { id?: unknown }) =>
        /"format" must be "text" or "json"/.test(error.message) &&
        error.id === 7,
    );
  }
});
