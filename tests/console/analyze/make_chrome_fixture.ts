/**
 * Makes `fixtures/chrome_page.heapsnapshot.gz`: a heap snapshot of the
 * leaking page of `_chrome.ts` (3 000 more visits after load), taken by
 * headless Chromium over the DevTools protocol and gzipped. Checked in so
 * the Chrome-format test runs where Chromium is not installed; run again
 * after changing the page:
 *
 * ```sh
 * apt-get install chromium
 * deno run --allow-run=chromium --allow-net=127.0.0.1 --allow-read --allow-write \
 *   tests/console/analyze/make_chrome_fixture.ts
 * ```
 *
 * @module
 */

import { chromeSnapshots } from "./_chrome.ts";

/** Where the fixture goes. */
export const CHROME_FIXTURE = new URL(
  "fixtures/chrome_page.heapsnapshot.gz",
  import.meta.url,
);

/** Visits the page makes before the snapshot (200 at load, then these). */
export const FIXTURE_VISITS = 3_000;

if (import.meta.main) {
  const dir = await Deno.makeTempDir();
  try {
    const plain = `${dir}/page.heapsnapshot`;
    await chromeSnapshots([{ visits: FIXTURE_VISITS, file: plain }]);
    const source = await Deno.open(plain);
    const target = await Deno.open(CHROME_FIXTURE, {
      write: true,
      create: true,
      truncate: true,
    });
    await source.readable.pipeThrough(new CompressionStream("gzip")).pipeTo(
      target.writable,
    );
    const { size } = await Deno.stat(CHROME_FIXTURE);
    console.log(`wrote ${CHROME_FIXTURE.pathname} (${size} bytes)`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
