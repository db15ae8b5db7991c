import assert from "node:assert/strict";
import {
  CONSOLE_HELP,
  describeAddress,
  parseConsoleArgs,
} from "../../../console/client/flags.ts";
import { UsageError } from "../../../console/flags.ts";

const VARIABLES = [
  "CONSOLE_HOST",
  "CONSOLE_PORT",
  "CONSOLE_SOCKET",
  "CONSOLE_TOKEN",
];

/** Runs `fn` with exactly `env` set among the console's variables. */
function withEnv<T>(env: Record<string, string>, fn: () => T): T {
  const saved = VARIABLES.map((name) => [name, Deno.env.get(name)] as const);
  for (const name of VARIABLES) Deno.env.delete(name);
  for (const [name, value] of Object.entries(env)) Deno.env.set(name, value);
  try {
    return fn();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
}

/**
 * Asserts each command line fails with a UsageError of one short line
 * matching its pattern.
 */
function assertUsageErrors(cases: [string[], RegExp][]): void {
  for (const [args, message] of cases) {
    assert.throws(
      () => parseConsoleArgs(args),
      (error: Error) =>
        error instanceof UsageError && message.test(error.message) &&
        !error.message.includes("\n") && error.message.length < 300,
      `${args.slice(0, 6).join(" ")}: ${message}`,
    );
  }
}

Deno.test("parseConsoleArgs() defaults to 127.0.0.1:44444 and the token file", () => {
  withEnv({}, () => {
    assert.deepEqual(parseConsoleArgs([]), {
      address: { host: "127.0.0.1", port: 44444 },
    });
  });
});

Deno.test("parseConsoleArgs() reads flags, then the environment", () => {
  withEnv({ CONSOLE_PORT: "4000", CONSOLE_TOKEN: "from-env" }, () => {
    assert.deepEqual(parseConsoleArgs(["-e", "1 + 1"]), {
      address: { host: "127.0.0.1", port: 4000 },
      token: { value: "from-env", source: "CONSOLE_TOKEN" },
      eval: "1 + 1",
    });
    assert.deepEqual(
      parseConsoleArgs(["--host", "[::1]", "--port", "5000", "--token", "t"]),
      {
        address: { host: "::1", port: 5000 },
        token: { value: "t", source: "--token" },
      },
    );
  });
  withEnv({ CONSOLE_SOCKET: "/run/c.sock" }, () => {
    assert.deepEqual(parseConsoleArgs([]), {
      address: { socket: "/run/c.sock" },
    });
    // A TCP flag wins over the environment's socket.
    assert.deepEqual(parseConsoleArgs(["--port", "1"]), {
      address: { host: "127.0.0.1", port: 1 },
    });
  });
  withEnv({}, () => {
    assert.deepEqual(parseConsoleArgs(["--socket", "/tmp/s"]), {
      address: { socket: "/tmp/s" },
    });
  });
});

Deno.test("parseConsoleArgs() turns every mistake into a one-line UsageError", () => {
  withEnv({}, () => {
    const cases: [string[], RegExp][] = [
      [["--bogus"], /^Unknown option '--bogus'$/],
      [["stray"], /^Unexpected argument 'stray'$/],
      [
        ["--port", "x"],
        /^--port must be an integer from 1 to 65535: received "x"$/,
      ],
      [["--port", "0"], /^--port must be an integer from 1 to 65535/],
      [["--port"], /^Option '--port <value>' argument missing$/],
      [["--token", ""], /^--token must not be empty$/],
      [
        ["--socket", "/s", "--port", "1"],
        /^--socket cannot be combined with --host or --port$/,
      ],
      [["-e"], /argument missing/],
    ];
    assertUsageErrors(cases);
  });
  withEnv({ CONSOLE_PORT: "70000" }, () => {
    assert.throws(() => parseConsoleArgs([]), {
      name: "UsageError",
      message: /^CONSOLE_PORT must be an integer from 1 to 65535/,
    });
  });
});

Deno.test("parseConsoleArgs() asks for help with --help or -h", () => {
  assert.equal(parseConsoleArgs(["--help"]), "help");
  assert.equal(parseConsoleArgs(["-h", "--port", "1"]), "help");
  assert.match(CONSOLE_HELP, /Exit codes:/);
});

Deno.test("describeAddress() names TCP addresses and sockets", () => {
  assert.equal(
    describeAddress({ host: "127.0.0.1", port: 44444 }),
    "127.0.0.1:44444",
  );
  assert.equal(describeAddress({ host: "::1", port: 1 }), "[::1]:1");
  assert.equal(describeAddress({ socket: "/tmp/c.sock" }), "/tmp/c.sock");
});

Deno.test("parseConsoleArgs() reads --target, --json and --timeout", () => {
  withEnv({}, () => {
    assert.deepEqual(
      parseConsoleArgs([
        "--target",
        "10.0.0.5:44444",
        "--target",
        "[::1]:4001",
        "--target",
        "4002",
        "--target",
        "/run/leakwatch/console.sock",
        "--json",
        "-e",
        "cache.size",
      ]),
      {
        address: { host: "127.0.0.1", port: 44444 },
        eval: "cache.size",
        json: true,
        targets: [
          { host: "10.0.0.5", port: 44444 },
          { host: "::1", port: 4001 },
          { host: "127.0.0.1", port: 4002 },
          { socket: "/run/leakwatch/console.sock" },
        ],
        timeoutMs: 30_000,
      },
    );
    const timed = parseConsoleArgs([
      "--target",
      "1",
      "--timeout",
      "2.5",
      "-e",
      "1",
    ]);
    assert.ok(timed !== "help");
    assert.equal(timed.timeoutMs, 2500);
    assert.deepEqual(parseConsoleArgs(["--timeout", "0.25", "-e", "1"]), {
      address: { host: "127.0.0.1", port: 44444 },
      eval: "1",
      timeoutMs: 250,
    });
    assert.deepEqual(parseConsoleArgs(["--json", "-e", "1"]), {
      address: { host: "127.0.0.1", port: 44444 },
      eval: "1",
      json: true,
    });
  });
});

Deno.test("parseConsoleArgs() refuses bad --target, --json and --timeout use in one line", () => {
  withEnv({}, () => {
    const many = Array.from(
      { length: 257 },
      (_, i) => ["--target", String(i + 1)],
    ).flat();
    const cases: [string[], RegExp][] = [
      [["--target", "", "-e", "1"], /^--target must not be empty$/],
      [["--target", "host:", "-e", "1"], /^--target must be HOST:PORT/],
      [["--target", ":80", "-e", "1"], /^--target must be HOST:PORT/],
      [["--target", "a:b", "-e", "1"], /^--target must be HOST:PORT/],
      [["--target", "::1:80", "-e", "1"], /^--target must be HOST:PORT/],
      [["--target", "x.sock", "-e", "1"], /\(\.\/console\.sock\)/],
      [
        ["--target", "h:99999", "-e", "1"],
        /^--target "h:99999"'s port must be an integer from 1 to 65535/,
      ],
      [["--target", "x".repeat(5000), "-e", "1"], /over 4096 characters/],
      [
        ["--target", "1", "--target", "127.0.0.1:1", "-e", "1"],
        /^--target 127\.0\.0\.1:1 is given twice$/,
      ],
      [[...many, "-e", "1"], /^at most 256 --target instances/],
      [["--target", "1"], /^--target needs -e CODE/],
      [
        ["--target", "1", "--port", "2", "-e", "1"],
        /^--target cannot be combined with --host, --port or --socket$/,
      ],
      [["--json"], /^--json needs -e CODE/],
      [["--timeout", "1"], /^--timeout needs -e CODE \(or --target\)$/],
      [["--timeout", "0", "-e", "1"], /^--timeout must be a number of seconds/],
      [
        ["--target", "1", "--timeout", "0", "-e", "1"],
        /^--timeout must be a number of seconds above 0, at most 3600: received "0"$/,
      ],
      [["--target", "1", "--timeout", "-1", "-e", "1"], /needs a value/],
      [["--target", "1", "--timeout", "1e9", "-e", "1"], /at most 3600/],
      [["--target", "1", "--timeout", "4000", "-e", "1"], /at most 3600/],
    ];
    assertUsageErrors(cases);
  });
});

Deno.test("parseConsoleArgs() reads --pid and --list", () => {
  withEnv({ CONSOLE_PORT: "4000" }, () => {
    assert.deepEqual(parseConsoleArgs(["--pid", "1234", "-e", "1"]), {
      address: { host: "127.0.0.1", port: 4000 },
      pid: 1234,
      eval: "1",
    });
    assert.deepEqual(parseConsoleArgs(["--list"]), {
      address: { host: "127.0.0.1", port: 44444 },
      list: true,
    });
    assert.deepEqual(parseConsoleArgs(["--list", "--json"]), {
      address: { host: "127.0.0.1", port: 44444 },
      list: true,
      json: true,
    });
  });
});

Deno.test("parseConsoleArgs() refuses bad --pid and --list use in one line", () => {
  withEnv({}, () => {
    const cases: [string[], RegExp][] = [
      [
        ["--pid", "0"],
        /^--pid must be an integer from 1 to 4194304: received "0"$/,
      ],
      [["--pid", "-5"], /^--pid needs a value/],
      [["--pid", "12abc"], /^--pid must be an integer/],
      [["--pid", "9".repeat(30)], /^--pid must be an integer/],
      [["--pid", "4194305"], /^--pid must be an integer from 1 to 4194304/],
      [["--pid", ""], /^--pid must be an integer/],
      [["--pid"], /^Option '--pid <value>' argument missing$/],
      [
        ["--pid", "1", "--port", "2"],
        /^--pid cannot be combined with --host, --port, --socket or --target$/,
      ],
      [["--pid", "1", "--socket", "/s"], /^--pid cannot be combined/],
      [["--pid", "1", "--target", "1", "-e", "1"], /^--pid cannot be combined/],
      [
        ["--list", "-e", "1"],
        /^--list takes no other flag than --json: received -e$/,
      ],
      [
        ["--list", "--pid", "1", "--port", "2"],
        /^--list takes no other flag than --json: received --pid, --port$/,
      ],
      [["--list", "extra"], /^Unexpected argument 'extra'$/],
      [["--list=yes"], /^Option '--list' does not take an argument$/],
    ];
    assertUsageErrors(cases);
  });
});
