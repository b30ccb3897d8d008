// A stand-in for the parts of Duet Web Control a plugin chunk touches: the
// webpack 5 JSONP runtime with DWC's named modules, and DWC's way of loading
// an external plugin (dwc-plugin.md). Deliberately strict: a chunk with the
// wrong chunk id or module key must fail here as it would in DWC.
(function () {
	"use strict";
	const Vue = window.Vue, Vuetify = window.Vuetify;
	const dark = new URLSearchParams(location.search).get("dark") === "1";
	const H = (window.__harness = { routes: [], messages: {}, requests: [], errors: [], vm: null });
	window.addEventListener("error", (e) => H.errors.push(String(e.message)));
	window.addEventListener("unhandledrejection", (e) => H.errors.push(String(e.reason && e.reason.stack || e.reason)));

	// webpack marks ES modules like this; esbuild's interop reads __esModule to find .default.
	function esModule(exports) {
		const m = {};
		Object.defineProperty(m, Symbol.toStringTag, { value: "Module" });
		Object.defineProperty(m, "__esModule", { value: true });
		for (const k of Object.keys(exports)) {
			Object.defineProperty(m, k, { enumerable: true, get: () => exports[k] });
		}
		return m;
	}

	class NamedError extends Error {
		constructor(name, message) {
			super(message);
			this.name = name;
		}
	}

	const store = {
		state: Vue.observable({ machine: { model: { plugins: new Map() } } }),
		getters: Vue.observable({ isConnected: true }),
		async dispatch(action, payload) {
			if (action !== "machine/request") {
				throw new Error("harness: unsupported action " + action);
			}
			H.requests.push(payload.path);
			if (!store.getters.isConnected) {
				throw new Error("request is not available in default machine module");
			}
			if (H.failRequests) {
				throw new Error(H.failRequests);
			}
			const res = await fetch("/" + payload.path, { method: payload.method || "GET" });
			const text = await res.text();
			if (res.status === 401 || res.status === 403) throw new NamedError("InvalidPasswordError", "Invalid password");
			if (res.status === 404) throw new NamedError("FileNotFoundError", "File " + payload.path + " not found");
			if (res.status >= 500) throw new NamedError("OperationFailedError", text || "Operation failed");
			return (res.headers.get("content-type") || "").includes("json") ? JSON.parse(text) : text;
		},
	};

	const modules = {
		"./node_modules/vue/dist/vue.runtime.esm.js": (module) => { module.exports = esModule({ default: Vue }); },
		"./node_modules/vuetify/dist/vuetify.js": (module) => { module.exports = esModule({ default: Vuetify }); },
		"./src/store/index.ts": (module) => { module.exports = esModule({ default: store }); },
		"./src/plugins/index.ts": (module) => { module.exports = esModule({ default: [] }); },
		"./src/i18n/index.ts": (module) => {
			module.exports = esModule({
				registerPluginLocalization(id, lang, messages) {
					const key = id + "/" + lang;
					if (H.messages[key]) throw new Error(`Plugin ${id} has already registered ${lang} messages`);
					H.messages[key] = messages;
				},
			});
		},
		"./src/routes/index.ts": (module) => {
			module.exports = esModule({
				registerRoute(component, route) {
					H.routes.push(JSON.parse(JSON.stringify(route)));
					if (!H.vm) {
						H.vm = new Vue({
							vuetify: new Vuetify({ theme: { dark } }),
							render: (h) => h("v-app", [h("v-main", [h("v-container", { props: { fluid: true } }, [h(component)])])]),
						}).$mount("#app");
					}
				},
			});
		},
	};
	const cache = {};
	function __webpack_require__(id) {
		if (cache[id]) return cache[id].exports;
		const module = (cache[id] = { id, exports: {} });
		try {
			// like webpack: an unknown id fails with a TypeError on .call
			modules[id].call(module.exports, module, module.exports, __webpack_require__);
		} catch (e) {
			delete cache[id];
			throw e;
		}
		return module.exports;
	}

	const installed = {}; // chunk id → 0 when loaded, else [resolve, reject, promise]
	function onChunk([chunkIds, more]) {
		for (const k of Object.keys(more)) modules[k] = more[k];
		for (const id of chunkIds) {
			if (installed[id]) installed[id][0]();
			installed[id] = 0;
		}
	}
	const queue = (self.webpackChunkduetwebcontrol = self.webpackChunkduetwebcontrol || []);
	queue.forEach(onChunk);
	queue.push = onChunk;

	// DWC's patched chunk loader: the URL is the first dwcFiles entry that contains the id and ends in .js.
	__webpack_require__.e = function (chunkId) {
		if (installed[chunkId] === 0) return Promise.resolve();
		if (installed[chunkId]) return installed[chunkId][2];
		const plugin = window.pluginBeingLoaded || { dwcFiles: [] };
		const file = plugin.dwcFiles.find((f) => f.includes(chunkId) && f.endsWith(".js"));
		const p = new Promise((resolve, reject) => (installed[chunkId] = [resolve, reject]));
		installed[chunkId][2] = p;
		const fail = (why) => {
			const st = installed[chunkId];
			if (st === 0 || !st) return;
			installed[chunkId] = undefined;
			const e = new Error(`Loading chunk ${chunkId} failed.\n(${why})`);
			e.name = "ChunkLoadError";
			st[1](e);
		};
		if (!file) {
			fail("no dwcFiles entry for it");
			return p;
		}
		const s = document.createElement("script");
		s.src = "/" + file;
		const timer = setTimeout(() => fail("timeout: " + s.src), 10000);
		s.onload = s.onerror = (ev) => {
			clearTimeout(timer);
			fail(ev.type + ": " + s.src);
		};
		document.head.appendChild(s);
		return p;
	};

	H.store = store;
	H.require = __webpack_require__;
	H.setPlugin = (plugin) => {
		// DWC replaces the whole Map with fresh clones on every object model patch
		store.state.machine.model.plugins = plugin ? new Map([["usbStream", JSON.parse(JSON.stringify(plugin))]]) : new Map();
	};
	H.setConnected = (v) => {
		store.getters.isConnected = v;
	};
	H.loadPlugin = async (plugin) => {
		try {
			window.pluginBeingLoaded = plugin;
			await __webpack_require__.e(plugin.id);
			__webpack_require__(`./src/plugins/${plugin.id}/index.js`);
			return { ok: true };
		} catch (e) {
			return { ok: false, name: e.name, message: e.message };
		} finally {
			window.pluginBeingLoaded = null;
		}
	};
})();
