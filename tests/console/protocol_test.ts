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
      '{"op":"hello","version":2}',
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

Deno.test("parseHello() takes a hello with or without token and refuses other versions", () => {
  assert.deepEqual(parseHello('{"op":"hello","version":2,"colors":true}'), {
    op: "hello",
    version: 2,
    colors: true,
  });
  assert.equal(parseHello('{"op":"hello","token":"t"}').token, "t");
  assert.throws(
    () => parseHello('{"op":"hello","version":"1\\nx"}'),
    /Unsupported protocol version "1\\nx"/,
  );
  assert.throws(() => parseHello('{"op":"hello","version":1}'), /"token"/);
  assert.throws(() => parseHello('{"op":"hello","colors":1}'), /"colors"/);
});

Deno.test("parseAuth() takes 64 hex digits and nothing else", () => {
  const answer = "ab".repeat(32);
  assert.deepEqual(parseAuth(`{"op":"auth","answer":"${answer}"}`), {
    op: "auth",
    answer,
  });
  for (
    const line of [
      '{"op":"auth"}',
      `{"op":"auth","answer":"${"AB".repeat(32)}"}`,
      `{"op":"auth","answer":"${answer}0"}`,
      `{"op":"hello","answer":"${answer}"}`,
      "[]",
    ]
  ) {
    assert.throws(() => parseAuth(line), line);
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
