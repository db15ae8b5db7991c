import assert from "node:assert/strict";
import process from "node:process";
import {
  type MetricsSource,
  renderMetrics,
  RequestStats,
  ServiceMetrics,
  UNSUPPORTED_DEFAULT_METRICS,
} from "../../lib/metrics.ts";
import { startLeakAlarm } from "../../console/mod.ts";
import { startServe } from "../_process.ts";
import { hasTool, promtool } from "../_tools.ts";
import { pipelinedGets, readResponses } from "./_http.ts";

function source(): MetricsSource {
  return {
    cache: new Map(),
    stats: { hits: 0, misses: 0 },
    requests: new RequestStats(),
  };
}

function value(text: string, name: string): string | undefined {
  return text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1];
}

Deno.test("`renderMetrics()` shows NaN, not 0, for the floor while the alarm is off", async () => {
  const text = await renderMetrics(source());
  assert.match(value(text, "leakwatch_heap_after_gc_bytes")!, /^nan$/i);
  assert.match(
    value(text, "leakwatch_heap_growth_bytes_per_second")!,
    /^nan$/i,
  );
});

Deno.test("`renderMetrics()` includes the default metrics that work under Deno and leaves out the rest", async () => {
  const text = await renderMetrics(source());
  for (
    const name of [
      "process_cpu_seconds_total",
      "process_start_time_seconds",
      "nodejs_heap_size_used_bytes",
      "nodejs_eventloop_lag_p99_seconds",
      "nodejs_version_info",
    ]
  ) {
    assert.match(text, new RegExp(`^${name}[ {]`, "m"), name);
  }
  assert.ok(Number(value(text, "process_cpu_seconds_total")) > 0);
  assert.ok(Number(value(text, "nodejs_heap_size_used_bytes")) > 1e6);
  for (const name of UNSUPPORTED_DEFAULT_METRICS) {
    if (name === "process_resident_memory_bytes") continue;
    assert.doesNotMatch(text, new RegExp(`^(# TYPE )?${name}[ {]`, "m"), name);
  }
  // Resident memory once, ours, from Deno.memoryUsage(), and not 0.
  assert.equal(
    text.match(/^# TYPE process_resident_memory_bytes /gm)?.length,
    1,
  );
  assert.ok(Number(value(text, "process_resident_memory_bytes")) > 1e6);
});

Deno.test({
  name: "`renderMetrics()` output passes `promtool check metrics`",
  ignore: !hasTool("promtool"),
  async fn() {
    // A real alarm, just started: NaN floor and growth beside numbers.
    const alarm = await startLeakAlarm();
    let text;
    try {
      text = await renderMetrics(source());
    } finally {
      await alarm.stop();
    }
    const { text: report } = await promtool(["check", "metrics"], {
      input: text,
    });
    // Lint remarks about prom-client's own names are fine; a parse error is not.
    assert.doesNotMatch(
      report,
      /error parsing|text format parsing error/i,
      report,
    );
    assert.doesNotMatch(report, /leakwatch_/, report);
  },
});

Deno.test("`ServiceMetrics.render()` reports the whole process's CPU time, never restarting it for another service", async () => {
  const cpu = (text: string) =>
    Number(value(text, "process_cpu_seconds_total"));
  const spent = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  };
  const before = spent();
  const first = cpu(await new ServiceMetrics(source()).render());
  assert.ok(first >= before, `${first} s reported, ${before} s spent before`);
  const until = performance.now() + 50;
  while (performance.now() < until) Math.sqrt(Math.random());
  const second = cpu(await new ServiceMetrics(source()).render());
  assert.ok(second > first, `${first} then ${second}`);
});

Deno.test("`ServiceMetrics.render()` counts the service's own requests and cache, each service apart", async () => {
  const a = source();
  const b = source();
  a.requests.record("/healthz", 200);
  a.stats.hits = 5;
  const metricsA = new ServiceMetrics(a);
  const metricsB = new ServiceMetrics(b);
  const [textA, textB] = await Promise.all([
    metricsA.render(),
    metricsB.render(),
  ]);
  assert.equal(value(textA, "users_cache_hits_total"), "5");
  assert.equal(value(textB, "users_cache_hits_total"), "0");
  assert.match(
    textA,
    /^http_requests_total\{route="\/healthz",status="200"\} 1$/m,
  );
  assert.doesNotMatch(textB, /^http_requests_total\{/m);
  a.stats.hits = 7;
  assert.equal(value(await metricsA.render(), "users_cache_hits_total"), "7");
});

/** A sample's value in an exposition, `NaN` when absent. */
function sample(text: string, series: string): number {
  const escaped = series.replace(/[{}"/]/g, (c) => `\\${c}`);
  return Number(text.match(new RegExp(`^${escaped} (\\S+)$`, "m"))?.[1]);
}

Deno.test("main.ts serve keeps resident memory flat and counters monotonic over 300 scrapes, concurrent and pipelined", async () => {
  const service = await startServe(["--no-console"]);
  const { port } = new URL(service.url);
  const scrape = async () => {
    const response = await fetch(`${service.url}metrics`);
    assert.equal(response.status, 200);
    return await response.text();
  };
  const texts: string[] = [];
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(port),
  });
  try {
    // Concurrent first scrapes: one registry between them.
    const first = await Promise.all(Array.from({ length: 20 }, scrape));
    const baseline = Math.min(
      ...first.map((text) => sample(text, "process_resident_memory_bytes")),
    );
    // The leak this guards against cost 10-16 MB a scrape; the bound leaves
    // room for the heap to grow between GCs on a busy machine.
    const limit = 64 * 1024 * 1024;
    let rss = baseline;
    for (let round = 0; round < 10 && rss - baseline < limit; round++) {
      for (let i = 0; i < 10; i++) texts.push(await scrape());
      texts.push(...await Promise.all(Array.from({ length: 10 }, scrape)));
      await conn.write(pipelinedGets("/metrics", 10));
      for (const { status, body } of await readResponses(conn, 10)) {
        assert.equal(status, 200);
        texts.push(body);
      }
      rss = sample(texts.at(-1)!, "process_resident_memory_bytes");
    }
    assert.ok(
      rss - baseline < limit,
      `resident memory grew ${
        ((rss - baseline) / 2 ** 20).toFixed(1)
      } MiB over ${texts.length} scrapes`,
    );
    // Sequential scrapes see counters that never go back.
    for (
      const series of [
        "process_cpu_seconds_total",
        'http_requests_total{route="/metrics",status="200"}',
      ]
    ) {
      const values = texts.map((text) => sample(text, series));
      assert.ok(values.every(Number.isFinite), series);
      const sorted = [...values].sort((a, b) => a - b);
      // Concurrent scrapes may be answered out of order: compare the
      // sequential ones, the first ten of each round.
      for (let round = 0; round < values.length / 30; round++) {
        const sequential = values.slice(round * 30, round * 30 + 10);
        for (let i = 1; i < sequential.length; i++) {
          assert.ok(
            sequential[i]! >= sequential[i - 1]!,
            `${series} went from ${sequential[i - 1]} to ${sequential[i]}`,
          );
        }
      }
      assert.ok(sorted.at(-1)! > sorted[0]!, `${series} never rose`);
    }
    assert.equal(
      sample(
        texts.at(-1)!,
        'http_requests_total{route="/metrics",status="200"}',
      ),
      texts.length + first.length - 1,
    );
  } finally {
    conn.close();
    service.child.kill("SIGTERM");
    await service.finish();
  }
});

Deno.test("main.ts serve answers other requests between a client's pipelined scrapes", async () => {
  const service = await startServe(["--no-console"]);
  const port = Number(new URL(service.url).port);
  const other = await Deno.connect({ hostname: "127.0.0.1", port });
  const scraper = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    // Warm: prom-client loaded, both connections accepted.
    await scraper.write(pipelinedGets("/metrics", 1));
    await readResponses(scraper, 1);
    await other.write(pipelinedGets("/healthz", 1));
    await readResponses(other, 1);
    let scrapes = 0;
    const reading = readResponses(scraper, 300, () => scrapes++);
    await scraper.write(pipelinedGets("/metrics", 300));
    await other.write(pipelinedGets("/healthz", 1));
    const [health] = await readResponses(other, 1);
    const before = scrapes;
    await reading;
    assert.equal(health!.status, 200);
    // Without a turn of the event loop per scrape, Deno answered ~60 of one
    // connection's pipelined scrapes (2-3 ms of CPU each) before anyone
    // else's request: 40 such clients kept a newcomer waiting for seconds.
    assert.ok(before < 16, `${before} scrapes answered before /healthz`);
  } finally {
    other.close();
    scraper.close();
    service.child.kill("SIGTERM");
    await service.finish();
  }
});
