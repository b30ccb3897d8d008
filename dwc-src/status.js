// The tab shows one status shape, Go's status.Status: GET
// machine/usbStream/status answers it whole, and the plugin data DSF pushes
// (Go's status.Summary) is a part of it under the same names at the same
// places. readStatus renames nothing; it only supplies what a document may
// leave out (omitted empty lists, a section missing from a broken one), so
// that the template can read any field of either.

const num = (v, dflt = 0) => (typeof v === "number" && isFinite(v) ? v : dflt);
const str = (v) => (typeof v === "string" ? v : "");
const obj = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : {});
const list = (v) => (Array.isArray(v) ? v : []);

export function readStatus(raw) {
	if (!raw || typeof raw !== "object") {
		return null;
	}
	const source = obj(raw.source), http = obj(raw.http), config = obj(raw.config);
	const clients = list(raw.clients);
	return {
		...raw,
		source: { ...source, state: str(source.state) || "unknown", waiting: source.waiting === true, notes: list(source.notes) },
		clients,
		clientCount: num(raw.clientCount, clients.length),
		http: { ...http, streamPath: str(http.streamPath) || "/stream", snapshotPath: str(http.snapshotPath) || "/snapshot" },
		// A document without config.ok predates reload reporting; do not call it a failure.
		config: { ...config, ok: config.ok !== false, changed: list(config.changed) },
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
	const src = status.source;
	if (src.state === "streaming") {
		return { key: "streaming", text: "Streaming", color: "success" };
	}
	if (status.config.defaults) {
		return { key: "configError", text: "Config error", color: "error" };
	}
	// A value Go sets when the source is absent (source.ErrAbsent), never
	// read from the error's text.
	if (src.waiting) {
		return { key: "waiting", text: "Waiting for camera", color: "amber darken-3" };
	}
	if (src.state === "stalled") {
		// Running, but no frame for seconds: the error says since when.
		return { key: "stalled", text: "No frames", color: "orange" };
	}
	if (src.error) {
		return { key: "error", text: "Error", color: "error" };
	}
	switch (src.state) {
		case "lost":
			return { key: "lost", text: "Camera lost", color: "orange" };
		case "starting":
			return { key: "starting", text: "Starting", color: "info" };
		case "stopped":
			return { key: "stopped", text: "Stopped", color: "grey" };
	}
	return { key: "unknown", text: src.state, color: "grey" };
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
