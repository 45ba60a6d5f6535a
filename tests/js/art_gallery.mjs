// Opens the `aievm art gallery` page in Debian's headless Chromium (driven by playwright-core from
// node_modules) and reports what the page rendered: run by tests/test_art.py.
// usage: node art_gallery.mjs GALLERY_URL SCREENSHOT.png
// Prints one JSON object {state, tokens, status, images: [{id, complete, width, height}], errors};
// exits non-zero if the browser cannot be driven.
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(join(process.cwd(), "package.json"));
const { chromium } = require("playwright-core");

const [url, screenshot] = process.argv.slice(2);
const userDataDir = mkdtempSync(join(tmpdir(), "aievm-chromium-")); // a fresh profile every run
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.AIEVM_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1024, height: 900 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  page.on("console", (msg) => { if (msg.type() === "error") errors.push(msg.text()); });
  await page.goto(url);
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state), null, {
    timeout: 240_000,
  });
  const seen = await page.evaluate(() => ({
    state: document.body.dataset.state,
    tokens: Number(document.body.dataset.tokens ?? -1),
    status: document.getElementById("status").textContent,
    images: [...document.images].map((img) => ({
      id: Number(img.dataset.tokenId), complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
    })),
  }));
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ ...seen, errors }));
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
