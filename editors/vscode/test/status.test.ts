import assert from "node:assert/strict";
import { test } from "node:test";
import { formatMs, indexLine, statusLines, statusView, unavailableView } from "../src/status";

const READY = {
  version: "0.1.0",
  engine: {
    state: "ready",
    mode: "spawn",
    model: "tiny",
    device: "cpu",
    backend: "torch",
    trained: false,
    failures: 0,
    restarts: 0,
    last_error: "",
    latency_ms: { last: 41.6, mean: 50, p50: 45, p90: 80.2, count: 7 },
    active: 1,
    queued: 0,
    completed: 6,
  },
  requests: { requests: 9, answered: 7, empty: 2 },
  documents: 2,
};

test("latencies read in ms below a second and in s above", () => {
  assert.equal(formatMs(41.6), "42 ms");
  assert.equal(formatMs(1320), "1.3 s");
});

test("a ready engine shows its last latency", () => {
  const view = statusView(READY);
  assert.equal(view.text, "$(sparkle) infill 42 ms");
  assert.equal(view.level, "ok");
  assert.match(view.tooltip, /model tiny on cpu \(torch, untrained\)/);
  assert.match(view.tooltip, /latency last 42 ms, p50 45 ms, p90 80 ms over 7 requests/);
  assert.match(view.tooltip, /9 requests, 7 answered, 2 empty/);
});

test("a ready engine without requests yet shows its state", () => {
  const view = statusView({ engine: { state: "ready", latency_ms: {} } });
  assert.equal(view.text, "$(sparkle) infill ready");
});

test("starting and down engines are shown as busy and error", () => {
  assert.equal(statusView({ engine: { state: "starting" } }).level, "busy");
  assert.match(statusView({ engine: { state: "starting" } }).text, /loading~spin.*starting/);
  const down = statusView({ engine: { state: "down", failures: 3, restarts: 1, last_error: "no model" } });
  assert.equal(down.level, "error");
  assert.equal(down.text, "$(error) infill down");
  assert.match(down.tooltip, /3 consecutive failures, 1 restarts/);
  assert.match(down.tooltip, /last error: no model/);
});

test("unknown or missing fields do not break the view", () => {
  assert.equal(statusView({}).text, "$(question) infill unknown");
  assert.equal(statusLines({})[0], "infill ?: engine unknown (? mode)");
});

test("an unreachable server is an error", () => {
  const view = unavailableView("the language server is not running");
  assert.equal(view.level, "error");
  assert.match(view.tooltip, /not running/);
});

test("the workspace index shows in one line: building, ready (with the cache), capped, or not at all", () => {
  assert.equal(indexLine(null), "");
  assert.equal(indexLine({ state: "building", files: 1200 }), "index: building, 1,200 files so far");
  assert.equal(
    indexLine({ state: "ready", files: 407, lines: 92081, definitions: 3970, build_seconds: 0.055, from_cache: 407, age_seconds: 12.4 }),
    "index: 407 files, 92,081 lines, 3,970 definitions; built in 0.1 s (407 files unchanged, from the cache), 12 s ago",
  );
  assert.equal(
    indexLine({ state: "ready", files: 20000, lines: 10, definitions: 0, build_seconds: 4, age_seconds: 600, capped: "max_files" }),
    "index: 20,000 files, 10 lines, 0 definitions; built in 4.0 s, 10 min ago; stopped at the max_files cap",
  );
  const lines = statusLines({ ...READY, index: { state: "ready", files: 2, lines: 9, definitions: 3, build_seconds: 0.01, age_seconds: 1 } });
  assert.ok(lines.includes("index: 2 files, 9 lines, 3 definitions; built in 0.0 s, 1 s ago"));
  assert.ok(!statusLines(READY).some((line) => line.startsWith("index:")));
});
