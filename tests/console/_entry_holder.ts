/**
 * A child for discovery_test.ts: holds a console entry for this process
 * the way a running console does, prints "ready", then waits to be killed.
 *
 * ```sh
 * deno run --allow-env=HOME --allow-sys=uid --allow-read --allow-write tests/console/_entry_holder.ts MODE [TOKEN_FILE]
 * ```
 *
 * MODE `entry`: a real entry (naming TOKEN_FILE, which it writes first
 * unless it exists);
 * MODE `garbage`: an entry file that is not JSON, locked all the same.
 *
 * @module
 */

import { entryPath, publishEntry } from "../../console/discovery.ts";
import { ensurePrivateDirectory } from "../../console/state_dir.ts";
import { exists } from "../_files.ts";

const [mode, tokenFile] = Deno.args;
if (mode === "entry") {
  if (tokenFile !== undefined && !await exists(tokenFile)) {
    await ensurePrivateDirectory(
      tokenFile.slice(0, tokenFile.lastIndexOf("/")),
    );
    await Deno.writeTextFile(tokenFile, "token\n");
  }
  await publishEntry({
    pid: Deno.pid,
    program: "holder.ts",
    endpoint: { host: "127.0.0.1", port: 40999 },
    ...(tokenFile === undefined ? {} : { tokenFile }),
    startedAt: new Date().toISOString(),
  });
} else {
  const path = entryPath(Deno.pid);
  await ensurePrivateDirectory(path.slice(0, path.lastIndexOf("/")));
  const file = await Deno.open(path, { write: true, create: true });
  await file.lock(true);
  await file.write(new TextEncoder().encode("{not json"));
}
console.log("ready");
setInterval(() => {}, 60_000);
