// Local servers for the browser tests, bound to 127.0.0.1 only:
// - startDwc: the harness page, npm's Vue/Vuetify/MDI files, the chunk under
//   test (at its dwcFiles path) and the machine/usbStream/* endpoints, whose
//   answers a test sets in `api`;
// - startCamera: a stand-in for usbStream's own port (/stream, /snapshot).
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const NM = path.resolve(HERE, "../../node_modules");

const STATIC = {
	"/": [path.join(HERE, "index.html"), "text/html"],
	"/harness.js": [path.join(HERE, "runtime.js"), "text/javascript"],
	"/vendor/vue.runtime.js": [path.join(NM, "vue/dist/vue.runtime.js"), "text/javascript"],
	"/vendor/vuetify.js": [path.join(NM, "vuetify/dist/vuetify.js"), "text/javascript"],
	"/vendor/vuetify.css": [path.join(NM, "vuetify/dist/vuetify.min.css"), "text/css"],
	"/vendor/mdi/css/materialdesignicons.min.css": [path.join(NM, "@mdi/font/css/materialdesignicons.min.css"), "text/css"],
};

function listen(server) {
	return new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => resolve(server.address().port));
	});
}

export async function startDwc() {
	const state = { files: {}, api: {} };
	const server = http.createServer((req, res) => {
		const url = new URL(req.url, "http://127.0.0.1");
		const p = url.pathname;
		const send = (code, type, body) => {
			res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
			res.end(body);
		};
		if (STATIC[p]) {
			return send(200, STATIC[p][1], fs.readFileSync(STATIC[p][0]));
		}
		const font = /^\/vendor\/mdi\/fonts\/(materialdesignicons-webfont\.woff2)$/.exec(p);
		if (font) {
			return send(200, "font/woff2", fs.readFileSync(path.join(NM, "@mdi/font/fonts", font[1])));
		}
		const file = state.files[p.slice(1)];
		if (file !== undefined) {
			return send(200, "text/javascript", file);
		}
		const api = state.api[p.slice(1)];
		if (api) {
			const a = typeof api === "function" ? api() : api;
			const json = typeof a.body !== "string";
			return send(a.status || 200, json ? "application/json" : "text/plain", json ? JSON.stringify(a.body) : a.body);
		}
		send(404, "text/plain", "not found");
	});
	const port = await listen(server);
	return {
		url: `http://127.0.0.1:${port}/`,
		files: state.files,
		api: state.api,
		close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
	};
}

export async function startCamera(jpeg) {
	const seen = [];
	const server = http.createServer((req, res) => {
		const url = new URL(req.url, "http://127.0.0.1");
		seen.push(url.pathname + url.search);
		if (url.pathname === "/snapshot") {
			res.writeHead(200, { "content-type": "image/jpeg", "cache-control": "no-store" });
			return res.end(jpeg);
		}
		if (url.pathname === "/stream") {
			const b = "frame";
			res.writeHead(200, { "content-type": `multipart/x-mixed-replace; boundary=${b}`, "cache-control": "no-store" });
			const frame = () => res.write(`--${b}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`) && res.write(jpeg) && res.write("\r\n");
			frame();
			const t = setInterval(frame, 200);
			res.on("close", () => clearInterval(t));
			return;
		}
		res.writeHead(404).end();
	});
	const port = await listen(server);
	return {
		port,
		seen,
		close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
	};
}
