import assert from "node:assert/strict";

const DEPLOY = new URL("../../deploy/", import.meta.url).pathname;

/** Whether `promtool` (Debian package `prometheus`) is installed; .ci/run installs it. */
function hasTool(name: string): boolean {
  try {
    new Deno.Command(name, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync();
    return true;
  } catch {
    return false;
  }
}

async function promtool(...args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command("promtool", {
    args,
    cwd: DEPLOY,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout) +
    new TextDecoder().decode(stderr);
  return { code, text };
}

const ignore = !hasTool("promtool");

Deno.test({
  name: "deploy/alerts.yml passes its `promtool test rules` unit tests",
  ignore,
  async fn() {
    const { code, text } = await promtool("test", "rules", "alerts_test.yml");
    assert.equal(code, 0, text);
    assert.match(text, /SUCCESS/);
  },
});

Deno.test({
  name: "deploy/prometheus.yml and deploy/alerts.yml are valid for promtool",
  ignore,
  async fn() {
    const config = await promtool("check", "config", "prometheus.yml");
    assert.equal(config.code, 0, config.text);
    assert.doesNotMatch(config.text, /WARNING/);
    const rules = await promtool("check", "rules", "alerts.yml");
    assert.equal(rules.code, 0, rules.text);
    assert.match(rules.text, /SUCCESS: 2 rules found/);
  },
});

Deno.test({
  name: "`promtool test rules` fails a broken expectation (the check can fail)",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.copyFile(`${DEPLOY}alerts.yml`, `${dir}/alerts.yml`);
      const tests = await Deno.readTextFile(`${DEPLOY}alerts_test.yml`);
      await Deno.writeTextFile(
        `${dir}/alerts_test.yml`,
        tests.replace("instance: leaky:8000", "instance: cured:8000"),
      );
      const { code, stdout, stderr } = await new Deno.Command("promtool", {
        args: ["test", "rules", "alerts_test.yml"],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.notEqual(code, 0);
      const text = new TextDecoder().decode(stdout) +
        new TextDecoder().decode(stderr);
      assert.match(text, /FAILED/);
      assert.match(text, /instance="cured:8000"/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
