import assert from "node:assert/strict";
import {
  describeEndpoint,
  isEndpoint,
  tcpEndpoint,
  unixEndpoint,
} from "../../console/endpoint.ts";

Deno.test("tcpEndpoint() writes one address one way, whatever the socket reported", () => {
  const cases: [string, string][] = [
    ["127.0.0.1", "tcp:127.0.0.1:44444"],
    ["::ffff:127.0.0.1", "tcp:127.0.0.1:44444"],
    ["::FFFF:7f00:1", "tcp:127.0.0.1:44444"],
    ["::1", "tcp:[::1]:44444"],
    ["[::1]", "tcp:[::1]:44444"],
    ["0:0:0:0:0:0:0:1", "tcp:[::1]:44444"],
    ["2001:DB8:0:0:0:0:2:1", "tcp:[2001:db8::2:1]:44444"],
    ["2001:db8:0:0:1:0:0:1", "tcp:[2001:db8::1:0:0:1]:44444"],
    ["2001:0db8:0000:0001:0000:0000:0000:0001", "tcp:[2001:db8:0:1::1]:44444"],
    ["fe80::1%eth0", "tcp:[fe80::1]:44444"],
    ["::", "tcp:[::]:44444"],
    ["1:2:3:4:5:6:7:8", "tcp:[1:2:3:4:5:6:7:8]:44444"],
  ];
  for (const [hostname, endpoint] of cases) {
    assert.equal(tcpEndpoint({ hostname, port: 44444 }), endpoint, hostname);
    assert.ok(isEndpoint(endpoint), endpoint);
  }
});

Deno.test("unixEndpoint() resolves relative paths and symbolic links", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  // The one path the test task lets tests listen on; links to it from `dir`.
  const socket = await Deno.realPath(
    Deno.env.get("LEAKWATCH_TEST_DIR") ?? await Deno.makeTempDir(),
  ) + "/console.sock";
  try {
    const listener = Deno.listen({ path: socket, transport: "unix" });
    await Deno.symlink(socket, `${dir}/console.sock`);
    await Deno.symlink(socket, `${dir}/link.sock`);
    await Deno.mkdir(`${dir}/sub`);
    await Deno.symlink(dir, `${dir}/sub/up`);
    try {
      for (
        const path of [
          socket,
          `${dir}/link.sock`,
          `${dir}/sub/../console.sock`,
          `${dir}/sub/up/console.sock`,
          `${dir}//console.sock`,
        ]
      ) {
        assert.equal(await unixEndpoint(path), `unix:${socket}`, path);
      }
      const previous = Deno.cwd();
      Deno.chdir(`${dir}/sub`);
      try {
        assert.equal(await unixEndpoint("../console.sock"), `unix:${socket}`);
        // Not there: made absolute all the same.
        assert.equal(
          await unixEndpoint("none.sock"),
          `unix:${dir}/sub/none.sock`,
        );
      } finally {
        Deno.chdir(previous);
      }
    } finally {
      listener.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(socket).catch(() => {});
  }
});

Deno.test("isEndpoint() takes what the module writes and nothing else", () => {
  for (
    const text of [
      "localhost:44444",
      "tcp:localhost:44444",
      "tcp:127.0.0.1",
      "tcp:127.0.0.1:",
      "tcp:::1:44444",
      "tcp:[::1]:123456",
      "unix:",
      "unix:relative.sock",
      "unix:/a\nb",
      "unix:/a\u0000",
      "unix:/" + "a".repeat(1100),
      "",
      null,
      44444,
      { endpoint: "tcp:127.0.0.1:1" },
    ]
  ) {
    assert.ok(!isEndpoint(text), JSON.stringify(text));
  }
  assert.equal(describeEndpoint("unix:/run/c.sock"), "/run/c.sock");
  assert.equal(describeEndpoint("tcp:[::1]:7"), "[::1]:7");
});
