import assert from "node:assert/strict";
import { hasTool, promtool } from "../_tools.ts";

const DEPLOY = new URL("../../deploy/", import.meta.url).pathname;

/** promtool in deploy/, beside the files under test. */
function inDeploy(...args: string[]) {
  return promtool(args, { cwd: DEPLOY });
}

const ignore = !hasTool("promtool");

Deno.test({
  name: "deploy/alerts.yml passes its `promtool test rules` unit tests",
  ignore,
  async fn() {
    const { code, text } = await inDeploy("test", "rules", "alerts_test.yml");
    assert.equal(code, 0, text);
    assert.match(text, /SUCCESS/);
  },
});

Deno.test({
  name: "deploy/prometheus.yml and deploy/alerts.yml are valid for promtool",
  ignore,
  async fn() {
    const config = await inDeploy("check", "config", "prometheus.yml");
    assert.equal(config.code, 0, config.text);
    assert.doesNotMatch(config.text, /WARNING/);
    const rules = await inDeploy("check", "rules", "alerts.yml");
    assert.equal(rules.code, 0, rules.text);
    assert.match(rules.text, /SUCCESS: 3 rules found/);
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
      const { code, text } = await promtool(
        ["test", "rules", "alerts_test.yml"],
        { cwd: dir },
      );
      assert.notEqual(code, 0);
      assert.match(text, /FAILED/);
      assert.match(text, /instance="cured:8000"/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
