/**
 * Drives the extension in a real VS Code (code-server in headless Chromium, through playwright-core)
 * the way a user would, and checks what VS Code shows. tests/test_vscode_e2e.py starts code-server and
 * runs this; each check prints "ok NAME (SECONDS s)", and the first that fails prints why, leaves a
 * screenshot beside the good one, and exits 1.
 *
 * Environment: E2E_URL (code-server), E2E_FOLDER (the workspace), E2E_FILE (a file in it, see
 * tests/test_vscode_e2e.py for its text), E2E_SOCKET (the engine's socket), E2E_INFILL (the `infill`
 * command), E2E_CHROMIUM, E2E_PROFILE (a fresh Chromium profile folder), E2E_SCREENSHOT (a PNG path).
 */
"use strict";

const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const { chromium } = require("playwright-core");

const WAIT_MS = 90_000; // the engine loads its model on a small, busy CPU
const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TYPED = "    return sum(values) / len("; // the embedded model fills it (tests/test_vscode_e2e.py)
const TYPED_LINE = 8; // 1-based: the empty line at the end of mean()'s body
const RENAMED_LINE = 11; // 1-based: "def area(radius: float) -> float:"; radius is renamed to r there
const NEXT_EDIT_LINE = 13; // "    return math.pi * radius ** 2": the next edit renames it there too
const NEXT_EDIT_COLUMN = 22; // 1-based column of "radius" on that line
const SELECTED = "math.pi * r ** 2"; // that line's expression once the next edit is applied

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const E2E = {
  url: env("E2E_URL"),
  folder: env("E2E_FOLDER"),
  file: env("E2E_FILE"),
  socket: env("E2E_SOCKET"),
  infill: env("E2E_INFILL"),
  chromium: env("E2E_CHROMIUM"),
  profile: env("E2E_PROFILE"),
  screenshot: env("E2E_SCREENSHOT"),
};

/** Text as the editor's DOM shows it: no-break spaces back to spaces. */
const plain = (text) => (text ?? "").replace(/\u00a0/g, " ");

/** The engine's PID from `infill engine status --json` (null when none listens). */
function enginePid() {
  try {
    const out = execFileSync(E2E.infill, ["engine", "status", "--json", "--socket", E2E.socket], {
      encoding: "utf8",
      timeout: 30_000,
    });
    return JSON.parse(out).pid ?? null;
  } catch {
    return null; // exits 1 when no engine listens
  }
}

/** Whether a process runs: an exited one its parent has not reaped yet (a zombie) does not. */
function isRunning(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function until(what, probe, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Runs a command by its title from the command palette. */
async function runCommand(page, title) {
  await page.keyboard.press("Control+Shift+P");
  const input = page.locator(".quick-input-widget input.input");
  await input.waitFor({ state: "visible" });
  await input.fill(`>${title}`);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor();
  await page.keyboard.press("Enter");
}

/** Goes to a line (1-based) of the active editor and to its end. */
async function goToLineEnd(page, line) {
  await page.keyboard.press("Control+G");
  await page.locator(".quick-input-widget input.input").fill(`:${line}`);
  await page.keyboard.press("Enter");
  await page.keyboard.press("End");
}

/** Saves the active editor; returns the file's text once `isSaved` holds for it, or fails with it. */
async function save(page, what, isSaved) {
  await page.keyboard.press("Control+S");
  let text = "";
  try {
    return await until(what, () => {
      text = fs.readFileSync(E2E.file, "utf8");
      return isSaved(text) ? text : null;
    }, 15_000);
  } catch (error) {
    throw new Error(`${error.message}; the file holds:\n${text}`);
  }
}

/** The editor's lines as its DOM shows them (the view is small: every line is rendered). */
async function shownText(page) {
  return plain(await page.locator(".monaco-editor .view-lines").first().innerText());
}

/** The texts VS Code shows struck through (the next edit's replaced text). */
async function struckText(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll(".monaco-editor .view-lines span")]
      .filter((span) => span.children.length === 0 && getComputedStyle(span).textDecorationLine.includes("line-through"))
      .map((span) => span.textContent.replace(/\u00a0/g, " ")),
  );
}

/** The cursor's "Ln L, Col C" from the status bar. */
async function cursorPosition(page) {
  const texts = (await page.locator(".statusbar-item").allInnerTexts()).map(plain);
  const match = texts.map((t) => /Ln (\d+), Col (\d+)/.exec(t)).find(Boolean);
  return match ? { line: Number(match[1]), column: Number(match[2]) } : null;
}

async function notificationsText(page) {
  return (await page.locator(".notification-toast").allInnerTexts()).map(plain).join(" | ");
}

async function main() {
  const failedShot = E2E.screenshot.replace(/\.png$/, "-failed.png");
  fs.rmSync(failedShot, { force: true });
  const context = await chromium.launchPersistentContext(E2E.profile, {
    executablePath: E2E.chromium,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1000, height: 560 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const t0 = Date.now();
  const check = async (name, body) => {
    try {
      await body();
    } catch (error) {
      await page.screenshot({ path: failedShot }).catch(() => undefined);
      // Show Status also writes the server's counters (requests answered, empty, superseded...) to the
      // extension's log, which the test prints
      await page.keyboard.press("Escape").catch(() => undefined);
      await runCommand(page, "infill: Show Status").catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const notes = await notificationsText(page).catch(() => "");
      const bar = await page.locator(".statusbar-item").allInnerTexts().catch(() => []);
      console.log(`FAILED ${name}: ${error instanceof Error ? error.message : String(error)}`);
      console.log(`  status bar: ${JSON.stringify(bar.map(plain).filter(Boolean))}`);
      console.log(`  notifications: ${notes || "none"}`);
      console.log(`  screenshot: ${failedShot}`);
      throw Object.assign(new Error(`${name} failed`), { reported: true });
    }
    console.log(`ok ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  };
  const fileName = E2E.file.split("/").pop();
  const original = fs.readFileSync(E2E.file, "utf8");
  let ghost = "";

  await check("the workbench opens the workspace", async () => {
    await page.goto(`${E2E.url}/?folder=${encodeURIComponent(E2E.folder)}`);
    await page.locator(".monaco-workbench").waitFor({ timeout: WAIT_MS });
  });
  await check(`${fileName} opens in an editor`, async () => {
    await page.keyboard.press("Control+P");
    await page.locator(".quick-input-widget input.input").fill(fileName);
    await page.locator(".quick-input-list .monaco-list-row", { hasText: fileName }).first().waitFor();
    await page.keyboard.press("Enter");
    await page.locator(".monaco-editor .view-lines", { hasText: "def mean" }).waitFor();
  });
  await check('the status bar says "infill ready"', async () => {
    await page.locator(".statusbar-item", { hasText: "infill ready" }).waitFor({ timeout: WAIT_MS });
  });
  await check("typing shows a ghost text", async () => {
    await goToLineEnd(page, TYPED_LINE);
    await page.keyboard.type(TYPED, { delay: 40 });
    const decoration = page.locator(".monaco-editor .ghost-text-decoration").first();
    await decoration.waitFor({ timeout: WAIT_MS });
    await new Promise((resolve) => setTimeout(resolve, 200)); // all of its parts drawn
    // VS Code may draw the line's ghost text in parts (a fill starting with a space: " " then the rest)
    ghost = plain((await page.locator(".monaco-editor .ghost-text-decoration").allTextContents()).join(""));
    if (!ghost.trim()) throw new Error(`the ghost text is blank: ${JSON.stringify(ghost)}`);
    await page.screenshot({ path: E2E.screenshot });
    console.log(`  ${JSON.stringify(TYPED)} + ${JSON.stringify(ghost)}`);
  });
  await check("Tab accepts the ghost text into the buffer", async () => {
    await page.keyboard.press("Tab");
    await page.locator(".monaco-editor .ghost-text-decoration").first().waitFor({ state: "detached" });
    const want = TYPED + ghost;
    await until(`the editor to show ${JSON.stringify(want)}`, async () => (await shownText(page)).includes(want));
    // the lines down to the typed one: the lines above as they were, the typed one ending with the ghost text
    const head = (text) => text.split("\n").slice(0, TYPED_LINE).join("\n");
    const lines = original.split("\n");
    lines[TYPED_LINE - 1] = want;
    const wanted = head(lines.join("\n"));
    await save(page, `line ${TYPED_LINE} of the file to be ${JSON.stringify(want)}`, (text) => head(text) === wanted);
  });
  await check("a rename shows the next edit, which Tab goes to and then applies", async () => {
    await page.keyboard.press("Control+G");
    await page.locator(".quick-input-widget input.input").fill(`:${RENAMED_LINE}:10`);
    await page.keyboard.press("Enter");
    await page.keyboard.press("Control+Shift+ArrowRight"); // selects "radius"
    await page.keyboard.type("r");
    // the server's answer, 500 ms after the change: "radius" struck through, "r" after it, a hint on the line
    const struck = await until("the next edit's struck-through text", async () => {
      const texts = await struckText(page);
      return texts.includes("radius") ? texts : null;
    });
    const line = (await shownText(page)).split("\n").find((l) => l.includes("math.pi")) ?? "";
    // VS Code draws an `after` decoration as injected text (in the line's DOM) or as a CSS ::after
    const injected = await page.evaluate(() =>
      [...document.querySelectorAll(".monaco-editor .view-lines span")].map((s) => getComputedStyle(s, "::after").content),
    );
    if (!line.includes("radiusr") && !injected.includes('"r"')) {
      throw new Error(`the new text is not shown after the old: ${JSON.stringify(line)}`);
    }
    console.log(`  shown: ${JSON.stringify(line)} (struck through: ${JSON.stringify(struck)})`);
    if (await page.locator(".monaco-editor .ghost-text-decoration").count()) {
      await page.keyboard.press("Escape"); // a ghost text of the rename's own line takes Tab first
      await page.locator(".monaco-editor .ghost-text-decoration").first().waitFor({ state: "detached" });
    }
    await page.keyboard.press("Tab"); // goes to the edit
    const at = await until("the cursor at the next edit", async () => {
      const position = await cursorPosition(page);
      return position && position.line === NEXT_EDIT_LINE ? position : null;
    }, 15_000);
    if (at.column !== NEXT_EDIT_COLUMN) throw new Error(`Tab went to ${JSON.stringify(at)}`);
    if (!(await struckText(page)).includes("radius")) throw new Error("the suggestion went away on the jump");
    await page.keyboard.press("Tab"); // applies it
    await until("the edit applied", async () => (await shownText(page)).includes(`return ${SELECTED}`), 15_000);
    await until("the decorations cleared", async () => !(await struckText(page)).includes("radius"), 15_000);
    const text = await save(page, "the renamed lines in the file", (t) => t.includes("def area(r: float)") && t.includes(`return ${SELECTED}`));
    if (text.includes("radius")) throw new Error(`"radius" is left in the file:\n${text}`);
  });
  await check('"infill: Show Status" answers', async () => {
    await runCommand(page, "infill: Show Status");
    const toast = page.locator(".notification-toast", { hasText: "engine ready" });
    await toast.waitFor();
    const text = plain(await toast.innerText());
    if (!/^infill \S+: engine ready/m.test(text)) throw new Error(`the notification says ${JSON.stringify(text)}`);
    await runCommand(page, "Notifications: Clear All Notifications");
    await toast.waitFor({ state: "detached" });
  });
  await check('"infill: Restart Engine" starts a new engine process', async () => {
    const before = await until("the engine's PID", enginePid);
    await runCommand(page, "infill: Restart Engine");
    const after = await until("a new engine PID", () => {
      const pid = enginePid();
      return pid && pid !== before ? pid : null;
    });
    await until(`the old engine (PID ${before}) to exit`, () => !isRunning(before));
    console.log(`  engine PID ${before} -> ${after}`);
  });
  await check('"infill: Fill Selection" replaces the selection', async () => {
    const before = fs.readFileSync(E2E.file, "utf8");
    await page.keyboard.press("Control+F");
    await page.locator(".find-widget textarea, .find-widget input").first().fill(SELECTED);
    await page.keyboard.press("Enter");
    await page.keyboard.press("Escape"); // the match stays selected
    await runCommand(page, "infill: Fill Selection");
    await page.locator(".quick-input-widget", { hasText: "fill selection" }).waitFor();
    await page.keyboard.press("Enter"); // no instruction
    await until("the selection to be replaced", async () => !(await shownText(page)).includes(SELECTED));
    const after = await save(page, "the file to be saved", (text) => !text.includes(SELECTED));
    const start = before.indexOf(SELECTED);
    const rest = before.slice(start + SELECTED.length); // the text after the selection
    const fill = after.slice(start, after.length - rest.length);
    if (after.slice(0, start) !== before.slice(0, start) || !after.endsWith(rest)) {
      throw new Error(`the text around the selection changed:\n${after}`);
    }
    if (!fill.trim() || fill.includes(SELECTED)) throw new Error(`the fill is ${JSON.stringify(fill)}`);
    console.log(`  ${JSON.stringify(SELECTED)} -> ${JSON.stringify(fill)}`);
  });
  await context.close();
}

main().then(
  () => process.exit(0),
  (error) => {
    if (!error.reported) console.log(`FAILED: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
