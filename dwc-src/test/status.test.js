// The normalising function the view relies on, against both status shapes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { normalizeStatus, stateOf, formatDuration, deviceMatches, sizeText, fpsText, withToken } from "../status.js";
import { fullStatus, summary } from "./helpers.js";

test("full status document (real /status sample) normalises", () => {
	const s = normalizeStatus(fullStatus());
	assert.equal(s.state, "streaming");
	assert.equal(s.waiting, false);
	assert.equal(s.device, "test pattern");
	assert.equal(s.format, "JPEG");
	assert.equal(s.width, 1280);
	assert.equal(s.targetFps, 24);
	assert.equal(s.clients, 0);
	assert.deepEqual(s.clientList, []);
	assert.equal(s.http.port, 18099);
	assert.equal(s.http.streamPath, "/stream");
	assert.equal(s.config.ok, true);
	assert.equal(s.startedAt, "2026-11-24T21:06:51.162826347Z");
});

test("full document: lost with 'waiting for camera' is waiting, other errors are not", () => {
	const doc = fullStatus();
	doc.source.state = "lost";
	doc.source.error = "waiting for camera /dev/video0";
	doc.clients = [{ kind: "stream", remote: "1.2.3.4:5", fps: 9.6, path: "/stream" }];
	let s = normalizeStatus(doc);
	assert.equal(s.waiting, true);
	assert.equal(s.clients, 1);
	assert.deepEqual(s.clientList, [{ kind: "stream", remote: "1.2.3.4:5", fps: 9.6 }]);
	doc.source.error = "VIDIOC_DQBUF: no such device";
	s = normalizeStatus(doc);
	assert.equal(s.waiting, false);
	assert.equal(stateOf({ connected: true, running: true, status: s }).key, "error");
});

test("summary normalises", () => {
	const s = normalizeStatus(summary({ state: "lost", waiting: true, error: "waiting for camera" }));
	assert.equal(s.waiting, true);
	assert.equal(s.clients, 2);
	assert.equal(s.clientList.length, 2);
	assert.equal(s.http.port, 8090);
	assert.deepEqual(s.config.changed, ["fps"]);
	assert.equal(normalizeStatus(null), null);
	assert.equal(normalizeStatus({}).state, "unknown");
});

test("stateOf: connection and process state come first", () => {
	const st = normalizeStatus(summary());
	const k = (o) => stateOf({ connected: true, running: true, status: st, ...o }).key;
	assert.equal(k({}), "streaming");
	assert.equal(k({ connected: false }), "disconnected");
	assert.equal(k({ running: false }), "notRunning");
	assert.equal(k({ running: undefined }), "streaming");
	assert.equal(k({ status: null }), "loading");
	assert.equal(k({ status: null, requestError: "404" }), "unreachable");
	assert.equal(k({ status: normalizeStatus(summary({ state: "lost" })) }), "lost");
	assert.equal(k({ status: normalizeStatus(summary({ state: "starting" })) }), "starting");
	assert.equal(k({ status: normalizeStatus(summary({ state: "stopped" })) }), "stopped");
	assert.equal(k({ status: normalizeStatus(summary({ state: "lost", error: "boom" })) }), "error");
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
	const st = normalizeStatus({ ...summary(), state: "stalled", error: "no frame since 15:04:05 (5s)" });
	assert.equal(stateOf({ connected: true, running: true, status: st }).key, "stalled");
});

test("the access token: normalised from both shapes, appended to URLs only when there is one", () => {
	const doc = fullStatus();
	doc.http.auth = true;
	doc.http.basic = true;
	doc.http.token = "0123456789abcdef0123456789abcdef";
	let s = normalizeStatus(doc);
	assert.equal(s.http.token, "0123456789abcdef0123456789abcdef");
	assert.equal(s.http.basic, true);
	s = normalizeStatus(summary({ http: { port: 8090, auth: true, token: "Tk9-x.y_z~0123456789" } }));
	assert.equal(s.http.token, "Tk9-x.y_z~0123456789");
	assert.equal(s.http.basic, false);
	assert.equal(normalizeStatus(summary()).http.token, "");
	assert.equal(withToken("http://h:1/stream", ""), "http://h:1/stream");
	assert.equal(withToken("http://h:1/stream", "abc"), "http://h:1/stream?token=abc");
	assert.equal(withToken("http://h:1/snapshot?t=3", "abc"), "http://h:1/snapshot?t=3&token=abc");
	assert.equal(withToken("http://h:1/", "a&b c"), "http://h:1/?token=a%26b%20c");
});
