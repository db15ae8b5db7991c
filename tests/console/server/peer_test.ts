import assert from "node:assert/strict";
import { peerOf } from "../../../console/server/peer.ts";

Deno.test("peerOf() makes all of loopback one peer, an IPv6 host its /64, a unix socket one peer", () => {
  const tcp = (hostname: string) => ({
    transport: "tcp" as const,
    hostname,
    port: 40000,
  });
  const cases: [Deno.Addr, string][] = [
    [tcp("127.0.0.1"), "loopback"],
    [tcp("127.8.9.10"), "loopback"],
    [tcp("::1"), "loopback"],
    [tcp("::ffff:127.0.0.1"), "loopback"],
    [tcp("::ffff:10.0.0.5"), "10.0.0.5"],
    [tcp("10.0.0.5"), "10.0.0.5"],
    [tcp("2001:db8:aa:bb:1:2:3:4"), "2001:db8:aa:bb::/64"],
    [tcp("2001:db8:aa:bb::9"), "2001:db8:aa:bb::/64"],
    [tcp("2001:db8::9"), "2001:db8:0:0::/64"],
    [tcp("2001:0DB8:00aa:00bb::1"), "2001:db8:aa:bb::/64"],
    [tcp("fe80::1%eth0"), "fe80:0:0:0::/64"],
    [{ transport: "unix", path: null } as unknown as Deno.Addr, "unix socket"],
    [{ transport: "unix", path: "/run/c.sock" } as Deno.Addr, "unix socket"],
  ];
  for (const [addr, peer] of cases) assert.equal(peerOf(addr), peer);
});
