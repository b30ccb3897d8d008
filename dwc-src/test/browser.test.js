// The built chunk in headless Chromium, loaded the way DWC loads an external
// plugin (see harness/runtime.js). All traffic stays on 127.0.0.1.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { build, summary, fullStatus, cameras, ROOT } from "./helpers.js";
import { startDwc, startCamera } from "./harness/server.js";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ARTIFACTS = path.join(ROOT, "test/artifacts");
const WAIT = 5000; // upper bound for any single wait in the page

if (!fs.existsSync(CHROMIUM)) {
	const why = `Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
	if (process.env.CI) {
		test("browser tests need Chromium", () => assert.fail(why));
	} else {
		console.log(`SKIPPING browser tests: ${why}. With CI set this is a failure.`);
		test("browser tests", { skip: why }, () => {});
	}
} else {
	describe("DWC tab in Chromium", { timeout: 120000 }, () => {
		let browser, dwc, cam, chunk, pluginMeta;

		before(async () => {
			chunk = build();
			dwc = await startDwc();
			browser = await chromium.launch({
				executablePath: CHROMIUM,
				headless: true,
				timeout: 30000,
				// launch() gives every run a fresh temporary --user-data-dir.
				args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
					"--disable-component-update", "--disable-sync", "--no-first-run"],
			});
			cam = await startCamera(await testJpeg());
			pluginMeta = { id: "usbStream", dwcFiles: ["js/" + chunk.name] };
			dwc.files["js/" + chunk.name] = chunk.text;
			fs.mkdirSync(ARTIFACTS, { recursive: true });
		});

		after(async () => {
			await browser?.close();
			await dwc?.close();
			await cam?.close();
		});

		// A JPEG drawn by the browser itself, so the repository needs no binary fixture.
		async function testJpeg() {
			const page = await browser.newPage();
			const url = await page.evaluate(() => {
				const c = document.createElement("canvas");
				c.width = 320;
				c.height = 180;
				const g = c.getContext("2d");
				const grad = g.createLinearGradient(0, 0, 320, 180);
				grad.addColorStop(0, "#1565c0");
				grad.addColorStop(1, "#2e7d32");
				g.fillStyle = grad;
				g.fillRect(0, 0, 320, 180);
				g.fillStyle = "#fff";
				g.font = "24px sans-serif";
				g.fillText("usbStream test frame", 40, 100);
				return c.toDataURL("image/jpeg", 0.8);
			});
			await page.close();
			return Buffer.from(url.split(",")[1], "base64");
		}

		const streaming = (over = {}) => ({ pid: 4242, data: { status: summary({ http: { port: cam.port, streamPath: "/stream", snapshotPath: "/snapshot" }, ...over }) } });

		async function openTab({ plugin, connected = true, dark = false, api = {}, meta = pluginMeta, failRequests = "" } = {}) {
			for (const k of Object.keys(dwc.api)) delete dwc.api[k];
			Object.assign(dwc.api, { "machine/usbStream/cameras": { body: cameras() } }, api);
			const context = await browser.newContext({ viewport: { width: 1000, height: 1500 } });
			await context.route(/.*/, (route) =>
				/^http:\/\/127\.0\.0\.1[:/]/.test(route.request().url()) ? route.continue() : route.abort());
			const page = await context.newPage();
			page.setDefaultTimeout(WAIT);
			const problems = [];
			page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
			page.on("console", (m) => { if (/\[Vue warn\]/.test(m.text())) problems.push(m.text()); });
			await page.goto(dwc.url + (dark ? "?dark=1" : ""));
			await page.evaluate(([p, c, f]) => {
				__harness.setConnected(c);
				__harness.setPlugin(p);
				__harness.failRequests = f;
			}, [plugin || null, connected, failRequests]);
			const load = await page.evaluate((m) => __harness.loadPlugin(m), meta);
			const close = async () => {
				const errs = await page.evaluate(() => __harness.errors).catch(() => []);
				await context.close();
				assert.deepEqual(problems.concat(errs), [], "no page errors or Vue warnings");
			};
			return { page, load, close };
		}

		const chip = (page) => page.locator("[data-test=state-chip]");
		const chipText = async (page) => (await chip(page).textContent()).trim();
		const waitChip = (page, text) => page.waitForFunction((t) => {
			const el = document.querySelector("[data-test=state-chip]");
			return el && el.textContent.trim() === t;
		}, text, { timeout: WAIT });

		test("the route registers under Plugins with path, icon and i18n caption", async () => {
			const { page, load, close } = await openTab({ plugin: streaming() });
			assert.deepEqual(load, { ok: true });
			const h = await page.evaluate(() => ({ routes: __harness.routes, messages: __harness.messages }));
			assert.deepEqual(h.routes, [{
				Plugins: { UsbStream: { icon: "mdi-webcam", caption: "plugins.usbStream.menuCaption", path: "/Plugins/UsbStream" } },
			}]);
			assert.equal(typeof h.messages["usbStream/en"].menuCaption, "string");
			assert.equal(await chipText(page), "Streaming");
			await close();
		});

		const states = [
			["streaming", { plugin: () => streaming() }, "Streaming", "success"],
			["waiting", { plugin: () => streaming({ source: { state: "lost", waiting: true, error: "no camera found (no video-capture device under /dev/video*)" } }) },
				"Waiting for camera", "amber"],
			["lost", { plugin: () => streaming({ source: { state: "lost" } }) }, "Camera lost", "orange"],
			["error", { plugin: () => streaming({ source: { state: "lost", error: "VIDIOC_STREAMON: device or resource busy" } }) }, "Error", "error"],
			["config error at start", { plugin: () => streaming({ source: { state: "lost", kind: "none", device: "configuration error",
				error: "configuration error: usbStream.config:3: -rotate 45: must be 0, 90, 180 or 270" },
				config: { ok: false, defaults: true, error: "/opt/dsf/sd/sys/usbStream/usbStream.config:3: -rotate 45: must be 0, 90, 180 or 270" } }) },
			"Config error", "error"],
			["stalled", { plugin: () => streaming({ source: { state: "stalled", error: "no frame since 15:04:05 (5s); the source has not failed, so it is left running" } }) },
				"No frames", "orange"],
			["starting", { plugin: () => streaming({ source: { state: "starting" } }) }, "Starting", "info"],
			["stopped", { plugin: () => streaming({ source: { state: "stopped" } }) }, "Stopped", "grey"],
			["plugin not running (pid 0)", { plugin: () => ({ ...streaming(), pid: 0 }) }, "Plugin not running", "grey"],
			["disconnected (isConnected false)", { plugin: () => streaming(), connected: false }, "DWC disconnected", "grey"],
			["disconnected (machine/request throws)", { plugin: () => ({ pid: 4242, data: { status: null } }),
				failRequests: "request is not available in default machine module" }, "DWC disconnected", "grey"],
			["endpoint missing (404) without plugin data", { plugin: () => ({ pid: 4242, data: { status: null } }) }, "No status", "grey"],
		];
		for (const [name, o, text, color] of states) {
			test(`state: ${name} → chip "${text}"`, async () => {
				const { page, load, close } = await openTab({ ...o, plugin: o.plugin() });
				assert.ok(load.ok, JSON.stringify(load));
				await waitChip(page, text);
				assert.match(await chip(page).getAttribute("class"), new RegExp(`\\b${color}\\b`));
				const img = await page.locator("img[data-test=preview]").count();
				if (text === "Streaming" || text === "Waiting for camera" || text === "Camera lost" || text === "No frames" || text === "Error" || text === "Config error" ||
					text === "Starting" || text === "Stopped") {
					assert.equal(img, 1, "preview shown");
				} else {
					assert.equal(img, 0, "no preview");
					assert.ok((await page.locator("[data-test=preview-message]").textContent()).trim().length > 0);
				}
				if (name === "error") {
					assert.match(await page.locator("[data-test=source-error]").textContent(), /device or resource busy/);
				}
				if (text === "Config error") {
					assert.match(await page.locator("[data-test=config-error]").textContent(),
						/built-in defaults.*usbStream\.config:3: -rotate 45/s);
				}
				await close();
			});
		}

		test("preview is the stream from location.hostname and the reported port; the switch polls snapshots", async () => {
			const { page, close } = await openTab({ plugin: streaming() });
			const img = page.locator("img[data-test=preview]");
			assert.equal(await img.getAttribute("src"), `http://127.0.0.1:${cam.port}/stream`);
			await page.waitForFunction(() => document.querySelector("img[data-test=preview]").naturalWidth > 0, null, { timeout: WAIT });
			// Vuetify puts the attrs of v-switch on its <input>; a user clicks the label.
			await page.locator("label", { hasText: "Snapshot every second" }).click();
			assert.equal(await page.locator("input[data-test=snapshot-switch]").getAttribute("aria-checked"), "true");
			const re = new RegExp(`^http://127\\.0\\.0\\.1:${cam.port}/snapshot\\?t=(\\d+)$`);
			await page.waitForFunction((r) => new RegExp(r).test(document.querySelector("img[data-test=preview]").src), re.source, { timeout: WAIT });
			const first = (await img.getAttribute("src")).match(re)[1];
			await page.waitForFunction(([r, f]) => {
				const m = document.querySelector("img[data-test=preview]").src.match(new RegExp(r));
				return m && m[1] !== f;
			}, [re.source, first], { timeout: WAIT });
			assert.ok(cam.seen.some((s) => /^\/snapshot\?t=\d+$/.test(s)), "the camera port got snapshot requests");
			await close();
		});

		test("replacing the plugins Map updates the view", async () => {
			const { page, close } = await openTab({ plugin: streaming() });
			assert.equal(await chipText(page), "Streaming");
			assert.match(await page.locator("[data-test=clients]").textContent(), /^\s*2\b/);
			await page.evaluate((s) => __harness.setPlugin({ pid: 4242, data: { status: s } }),
				summary({ source: { state: "lost", waiting: true, error: "waiting for camera" }, clientCount: 0, clients: [],
					http: { port: cam.port + 1, streamPath: "/stream", snapshotPath: "/snapshot" } }));
			await waitChip(page, "Waiting for camera");
			assert.equal(await page.locator("img[data-test=preview]").getAttribute("src"), `http://127.0.0.1:${cam.port + 1}/stream`);
			assert.match(await page.locator("[data-test=clients]").textContent(), /^\s*0\s*$/);
			await page.evaluate(() => __harness.setPlugin({ pid: -1, data: { status: null } }));
			await waitChip(page, "Plugin not running");
			assert.equal(await page.locator("img[data-test=preview]").count(), 0);
			await close();
		});

		test("without plugin data the tab polls machine/usbStream/status (full document) every 2 s", async () => {
			const doc = fullStatus();
			doc.http.port = cam.port;
			const api = { "machine/usbStream/status": { body: doc } };
			const { page, close } = await openTab({ plugin: { pid: 4242, data: { status: null } }, api });
			await waitChip(page, "Streaming");
			assert.match(await page.locator("[data-test=details]").textContent(), /test pattern/);
			assert.equal(await page.locator("img[data-test=preview]").getAttribute("src"), `http://127.0.0.1:${cam.port}/stream`);
			const lost = fullStatus();
			lost.source.state = "lost";
			lost.source.waiting = true;
			lost.source.error = "waiting for camera /dev/video0";
			dwc.api["machine/usbStream/status"] = { body: lost };
			await waitChip(page, "Waiting for camera");
			// plugin data arrives: polling stops
			await page.evaluate((s) => __harness.setPlugin({ pid: 4242, data: { status: s } }), summary({ http: { port: cam.port } }));
			await waitChip(page, "Streaming");
			const count = () => page.evaluate(() => __harness.requests.filter((p) => p === "machine/usbStream/status").length);
			const n = await count();
			await page.waitForTimeout(2500);
			assert.equal(await count(), n, "no more polling once plugin data is there");
			await close();
		});

		test("capabilities table lists formats, sizes and fps of the camera in use", async () => {
			const { page, close } = await openTab({ plugin: streaming() });
			const table = page.locator("[data-test=capabilities]");
			await table.waitFor({ timeout: WAIT });
			const rows = await table.locator("tbody tr").allTextContents();
			const norm = rows.map((r) => r.replace(/\s+/g, " ").trim());
			assert.deepEqual(norm, [
				"MJPG (Motion-JPEG) 1920×1080 30, 15",
				"MJPG (Motion-JPEG) 1280×720 30, 15, 7.5",
				"YUYV (YUYV 4:2:2) 640×480 30",
			]);
			assert.match(await table.locator("tbody tr").nth(1).getAttribute("class"), /font-weight-bold/, "current mode highlighted");
			assert.equal((await page.evaluate(() => __harness.requests)).filter((p) => p === "machine/usbStream/cameras").length, 1);
			await close();
		});

		test("addresses to copy, copy button, config reload result", async () => {
			const cfgErr = 'usbStream.config:12: unknown option "fsp"';
			const { page, close } = await openTab({ plugin: streaming({ config: { ok: false, error: cfgErr, loadedAt: new Date().toISOString() } }) });
			const urls = (await page.locator("[data-test=urls]").textContent()).replace(/\s+/g, " ");
			const base = `http://127.0.0.1:${cam.port}`;
			for (const u of [`${base}/stream`, `${base}/snapshot`, `${base}/`, `http://[HOSTNAME]:${cam.port}/stream`,
				`-camera1 web -weburl1 ${base}/snapshot`]) {
				assert.ok(urls.includes(u), `${u} listed`);
			}
			await page.locator("[data-test=urls] button").first().click();
			await page.waitForFunction(() => document.querySelector("[data-test=urls] .mdi-check") ||
				/Ctrl\+C/.test(document.body.textContent), null, { timeout: WAIT });
			assert.match(await page.locator("[data-test=config-error]").textContent(), /usbStream\.config:12/);
			await page.evaluate((s) => __harness.setPlugin({ pid: 4242, data: { status: s } }), summary({ http: { port: cam.port } }));
			await page.locator("[data-test=config-ok]").waitFor({ timeout: WAIT });
			assert.match(await page.locator("[data-test=config-ok]").textContent(), /changed: fps/);
			await close();
		});

		test("with auth, the preview and the addresses carry the access token; without, they do not", async () => {
			const token = "0123456789abcdef0123456789abcdef";
			const http = { port: cam.port, streamPath: "/stream", snapshotPath: "/snapshot", auth: true, basic: true, token };
			const { page, close } = await openTab({ plugin: streaming({ http }) });
			const base = `http://127.0.0.1:${cam.port}`;
			const img = page.locator("img[data-test=preview]");
			assert.equal(await img.getAttribute("src"), `${base}/stream?token=${token}`);
			// No password prompt to wait for: the image loads.
			await page.waitForFunction(() => document.querySelector("img[data-test=preview]").naturalWidth > 0, null, { timeout: WAIT });
			assert.ok(cam.seen.includes(`/stream?token=${token}`), "the camera port got the token");
			const urls = (await page.locator("[data-test=urls]").textContent()).replace(/\s+/g, " ");
			for (const u of [`${base}/stream?token=${token}`, `${base}/snapshot?token=${token}`, `${base}/?token=${token}`,
				`http://[HOSTNAME]:${cam.port}/stream?token=${token}`, `-camera1 web -weburl1 ${base}/snapshot?token=${token}`]) {
				assert.ok(urls.includes(u), `${u} listed`);
			}
			assert.match(await page.locator("[data-test=token-note]").textContent(), /webcam panel and httpViewer.*user:password@/s);
			await page.locator("label", { hasText: "Snapshot every second" }).click();
			const re = new RegExp(`^http://127\\.0\\.0\\.1:${cam.port}/snapshot\\?t=\\d+&token=${token}$`);
			await page.waitForFunction((r) => new RegExp(r).test(document.querySelector("img[data-test=preview]").src), re.source, { timeout: WAIT });
			// The token alone (no -user/-password): no user:password@ advice.
			await page.evaluate((s) => __harness.setPlugin({ pid: 4242, data: { status: s } }),
				summary({ http: { ...http, basic: false } }));
			await page.waitForFunction(() => !/user:password@/.test(document.querySelector("[data-test=token-note]").textContent), null, { timeout: WAIT });
			// Auth switched off: plain URLs, no note.
			await page.evaluate((s) => __harness.setPlugin({ pid: 4242, data: { status: s } }),
				summary({ http: { port: cam.port, streamPath: "/stream", snapshotPath: "/snapshot", auth: false } }));
			await page.locator("[data-test=token-note]").waitFor({ state: "detached", timeout: WAIT });
			assert.ok(!(await page.locator("[data-test=urls]").textContent()).includes("token="));
			await close();
		});

		for (const dark of [false, true]) {
			test(`${dark ? "dark" : "light"} theme renders (screenshot in test/artifacts)`, async () => {
				const { page, close } = await openTab({ plugin: streaming(), dark });
				await page.waitForFunction(() => document.querySelector("img[data-test=preview]").naturalWidth > 0, null, { timeout: WAIT });
				await page.locator("[data-test=capabilities]").waitFor({ timeout: WAIT });
				assert.equal(await page.locator(`.v-application.theme--${dark ? "dark" : "light"}`).count(), 1);
				const bg = await page.locator(".v-card").first().evaluate((el) => getComputedStyle(el).backgroundColor);
				if (dark) {
					assert.notEqual(bg, "rgb(255, 255, 255)", "card is not white in dark theme");
				}
				await page.screenshot({ path: path.join(ARTIFACTS, `usbstream-${dark ? "dark" : "light"}.png`), fullPage: true });
				await close();
			});
		}

		test("negative: a chunk with the wrong chunk id or module key fails to load in the harness", async () => {
			const good = chunk.text;
			const variants = {
				"wrong chunk id": [good.replace('[["usbStream"]', '[["usbstream"]'), "ChunkLoadError"],
				"wrong module key": [good.replace('"./src/plugins/usbStream/index.js"', '"./src/plugins/usbstream/index.js"'), "TypeError"],
			};
			for (const [what, [text, errName]] of Object.entries(variants)) {
				assert.notEqual(text, good, `${what}: the mutation applied`);
				const name = `js/usbStream.bad${errName}.js`;
				dwc.files[name] = text;
				const { page, load, close } = await openTab({ plugin: streaming(), meta: { id: "usbStream", dwcFiles: [name] } });
				assert.equal(load.ok, false, `${what} must not load`);
				assert.equal(load.name, errName, `${what}: ${load.message}`);
				assert.deepEqual(await page.evaluate(() => __harness.routes), [], `${what}: no route registered`);
				assert.equal(await page.locator("[data-test=state-chip]").count(), 0);
				await close();
			}
		});
	});
}
