// What the view reads, against the one status shape: a real /status
// document and the plugin-data summary that is a part of it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readStatus, stateOf, formatDuration, deviceMatches, sizeText, fpsText, withToken } from "../status.js";
import { fullStatus, summary } from "./helpers.js";

test("the /status document (real sample) is read as it is", () => {
	const doc = fullStatus();
	const s = readStatus(doc);
	assert.deepEqual(s, { ...doc, source: { ...doc.source, notes: [] }, config: { ...doc.config, changed: [] } },
		"nothing renamed or moved; only the lists Go omits when empty are there");
	assert.equal(s.source.state, "streaming");
	assert.equal(s.source.waiting, false);
	assert.equal(s.source.device, "test pattern");
	assert.equal(s.source.width, 1280);
	assert.equal(s.source.targetFps, 24);
	assert.equal(s.clientCount, 0);
	assert.deepEqual(s.clients, []);
	assert.equal(s.http.port, 18099);
	assert.equal(s.config.ok, true);
	assert.equal(s.startedAt, "2026-11-24T21:06:51.162826347Z");
});

test("the summary has the same names at the same places", () => {
	const s = readStatus(summary({ source: { state: "lost", waiting: true, error: "waiting for camera" } }));
	assert.equal(s.source.state, "lost");
	assert.equal(s.source.waiting, true);
	assert.equal(s.clientCount, 2);
	assert.equal(s.clients.length, 2);
	assert.equal(s.clients[0].remote, "192.168.1.20:51234");
	assert.equal(s.http.port, 8090);
	assert.deepEqual(s.config.changed, ["fps"]);
	assert.equal(s.process.pid, 4242);
	assert.equal(readStatus(null), null);
	const empty = readStatus({});
	assert.equal(empty.source.state, "unknown");
	assert.equal(empty.http.streamPath, "/stream");
	assert.equal(empty.clientCount, 0);
});

test("waiting is the field Go sets, never read from the error's text", () => {
	const doc = fullStatus();
	doc.source.state = "lost";
	doc.source.error = "waiting for camera /dev/video0";
	doc.source.waiting = false;
	let s = readStatus(doc);
	assert.equal(s.source.waiting, false);
	assert.equal(stateOf({ connected: true, running: true, status: s }).key, "error");
	doc.source.waiting = true;
	doc.source.error = "no camera found (no video-capture device under /dev/video*)";
	s = readStatus(doc);
	assert.equal(stateOf({ connected: true, running: true, status: s }).key, "waiting");
	doc.clients = [{ kind: "stream", remote: "1.2.3.4:5", fps: 9.6, path: "/stream" }];
	doc.clientCount = 1;
	s = readStatus(doc);
	assert.equal(s.clientCount, 1);
	assert.equal(s.clients[0].fps, 9.6);
});

test("stateOf: connection and process state come first", () => {
	const st = readStatus(summary());
	const k = (o) => stateOf({ connected: true, running: true, status: st, ...o }).key;
	const lost = (source) => readStatus(summary({ source }));
	assert.equal(k({}), "streaming");
	assert.equal(k({ connected: false }), "disconnected");
	assert.equal(k({ running: false }), "notRunning");
	assert.equal(k({ running: undefined }), "streaming");
	assert.equal(k({ status: null }), "loading");
	assert.equal(k({ status: null, requestError: "404" }), "unreachable");
	assert.equal(k({ status: lost({ state: "lost" }) }), "lost");
	assert.equal(k({ status: lost({ state: "starting" }) }), "starting");
	assert.equal(k({ status: lost({ state: "stopped" }) }), "stopped");
	assert.equal(k({ status: lost({ state: "lost", error: "boom" }) }), "error");
	assert.equal(k({ status: readStatus(summary({ source: { state: "lost", error: "configuration error" },
		config: { ok: false, defaults: true, error: "usbStream.config:3" } })) }), "configError");
});

test("helpers", () => {
	assert.equal(formatDuration(3723), "1 h 2 min 3 s");
	assert.equal(formatDuration(90061), "1 d 1 h 1 min 1 s");
	assert.equal(formatDuration(5), "5 s");
	assert.ok(deviceMatches({ path: "/dev/video0", byId: ["/dev/v4l/by-id/x"] }, "/dev/v4l/by-id/x"));
	assert.ok(!deviceMatches({ path: "/dev/video0" }, "test pattern"));
	assert.equal(sizeText({ width: 640, height: 480 }), "640×480");
	assert.equal(sizeText({ width: 16, height: 16, maxWidth: 1920, maxHeight: 1080, stepWidth: 16, stepHeight: 8 }), "16×16 – 1920×1080 (step 16×8)");
	assert.equal(fpsText([30, 7.5]), "30, 7.5");
});

test("stateOf: a stalled source is named, not a generic error", () => {
	const st = readStatus(summary({ source: { state: "stalled", error: "no frame since 15:04:05 (5s)" } }));
	assert.equal(stateOf({ connected: true, running: true, status: st }).key, "stalled");
});

test("the access token: read from both, appended to URLs only when there is one", () => {
	const doc = fullStatus();
	doc.http.auth = true;
	doc.http.basic = true;
	doc.http.token = "0123456789abcdef0123456789abcdef";
	let s = readStatus(doc);
	assert.equal(s.http.token, "0123456789abcdef0123456789abcdef");
	assert.equal(s.http.basic, true);
	s = readStatus(summary({ http: { port: 8090, auth: true, token: "Tk9-x.y_z~0123456789" } }));
	assert.equal(s.http.token, "Tk9-x.y_z~0123456789");
	assert.ok(!s.http.basic);
	assert.ok(!readStatus(summary()).http.token);
	assert.equal(withToken("http://h:1/stream", ""), "http://h:1/stream");
	assert.equal(withToken("http://h:1/stream", "abc"), "http://h:1/stream?token=abc");
	assert.equal(withToken("http://h:1/snapshot?t=3", "abc"), "http://h:1/snapshot?t=3&token=abc");
	assert.equal(withToken("http://h:1/", "a&b c"), "http://h:1/?token=a%26b%20c");
});
