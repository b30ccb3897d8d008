// The tab gets its status from two places with different shapes: the plugin
// data DSF pushes (Go's status.Summary, flat) and GET machine/usbStream/status
// (the full status document, nested under source/clients). normalizeStatus
// turns either into one flat shape so the template never has to care.

const num = (v) => (typeof v === "number" && isFinite(v) ? v : 0);
const str = (v) => (typeof v === "string" ? v : "");

// The Go side marks a lost source as "waiting" when its error starts with
// this; the full document has no waiting flag, so the rule is repeated here.
const WAITING_PREFIX = "waiting for camera";

export function normalizeStatus(raw) {
	if (!raw || typeof raw !== "object") {
		return null;
	}
	const full = raw.source && typeof raw.source === "object";
	const src = full ? raw.source : raw;
	const state = str(src.state) || "unknown";
	const error = str(src.error);
	const clientList = (full ? raw.clients : raw.clientList) || [];
	const http = raw.http || {};
	const config = raw.config || {};
	return {
		version: str(raw.version),
		pid: num(raw.pid),
		startedAt: str(raw.startedAt),
		state,
		error,
		waiting: full ? state === "lost" && error.startsWith(WAITING_PREFIX) : !!raw.waiting,
		kind: str(src.kind),
		device: str(src.device),
		name: str(src.name),
		format: str(src.format),
		width: num(src.width),
		height: num(src.height),
		targetFps: num(src.targetFps),
		measuredFps: num(src.measuredFps),
		notes: Array.isArray(src.notes) ? src.notes : [],
		clients: full ? clientList.length : num(raw.clients),
		clientList: clientList.map((c) => ({ kind: str(c.kind), remote: str(c.remote), fps: num(c.fps) })),
		http: {
			port: num(http.port),
			streamPath: str(http.streamPath) || "/stream",
			snapshotPath: str(http.snapshotPath) || "/snapshot",
			auth: !!http.auth,
			// the stream port takes -user/-password (basic auth)
			basic: !!http.basic,
			// opens the stream, snapshot and viewer as ?token= (there when auth is on)
			token: str(http.token),
			error: str(http.error),
		},
		config: {
			file: str(config.file),
			loadedAt: str(config.loadedAt),
			// A document without config.ok predates reload reporting; do not call it a failure.
			ok: config.ok !== false,
			// The file was broken at start: usbStream runs on its built-in defaults.
			defaults: !!config.defaults,
			error: str(config.error),
			failedAt: str(config.failedAt),
			changed: Array.isArray(config.changed) ? config.changed : [],
		},
	};
}

// stateOf decides what the chip says. Connection and process state win over
// whatever (possibly stale) status is still in the object model.
export function stateOf({ connected, running, status, requestError }) {
	if (!connected) {
		return { key: "disconnected", text: "DWC disconnected", color: "grey" };
	}
	if (running === false) {
		return { key: "notRunning", text: "Plugin not running", color: "grey" };
	}
	if (!status) {
		return requestError
			? { key: "unreachable", text: "No status", color: "grey" }
			: { key: "loading", text: "Waiting for status", color: "grey" };
	}
	if (status.state === "streaming") {
		return { key: "streaming", text: "Streaming", color: "success" };
	}
	if (status.config && status.config.defaults) {
		return { key: "configError", text: "Config error", color: "error" };
	}
	if (status.waiting) {
		return { key: "waiting", text: "Waiting for camera", color: "amber darken-3" };
	}
	if (status.state === "stalled") {
		// Running, but no frame for seconds: the error says since when.
		return { key: "stalled", text: "No frames", color: "orange" };
	}
	if (status.error) {
		return { key: "error", text: "Error", color: "error" };
	}
	switch (status.state) {
		case "lost":
			return { key: "lost", text: "Camera lost", color: "orange" };
		case "starting":
			return { key: "starting", text: "Starting", color: "info" };
		case "stopped":
			return { key: "stopped", text: "Stopped", color: "grey" };
	}
	return { key: "unknown", text: status.state, color: "grey" };
}

export function formatDuration(seconds) {
	if (!(seconds >= 0)) {
		return "";
	}
	seconds = Math.floor(seconds);
	const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24;
	const m = Math.floor(seconds / 60) % 60, s = seconds % 60;
	const parts = [];
	if (d) parts.push(d + " d");
	if (d || h) parts.push(h + " h");
	if (d || h || m) parts.push(m + " min");
	parts.push(s + " s");
	return parts.join(" ");
}

// deviceMatches says whether a camera from machine/usbStream/cameras is the
// one the status names; the config may name it by a by-id/by-path link.
export function deviceMatches(dev, path) {
	if (!dev || !path) {
		return false;
	}
	return dev.path === path || (dev.byId || []).includes(path) || (dev.byPath || []).includes(path);
}

export function sizeText(sz) {
	if (sz.maxWidth || sz.maxHeight) {
		return `${sz.width}×${sz.height} – ${sz.maxWidth}×${sz.maxHeight}` +
			(sz.stepWidth || sz.stepHeight ? ` (step ${sz.stepWidth}×${sz.stepHeight})` : "");
	}
	return `${sz.width}×${sz.height}`;
}

export function fpsText(list) {
	return (list || []).map((f) => String(Math.round(f * 100) / 100)).join(", ");
}

// withToken appends ?token= (or &token=) to url when there is a token:
// browsers send no user and password that are part of an <img> or <iframe>
// URL, so DWC's webcam panel and httpViewer need the token form.
export function withToken(url, token) {
	if (!token) {
		return url;
	}
	return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}
