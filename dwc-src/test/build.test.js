// The chunk file itself: name, determinism, and the exact webpack JSONP
// shape DWC needs (chunk id and module key), checked by running it in a VM.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { build } from "./helpers.js";

const PREFIX = '(self["webpackChunkduetwebcontrol"]=self["webpackChunkduetwebcontrol"]||[]).push([["usbStream"],{"./src/plugins/usbStream/index.js":function(module,exports,__webpack_require__){';

// Runs the chunk as a browser would, with a fake self, and returns what it pushed.
function pushed(text) {
	const self = {};
	vm.runInNewContext(text, { self }, { timeout: 5000 });
	return self.webpackChunkduetwebcontrol;
}

// Values made inside the VM have the VM's prototypes; compare plain copies.
function plain(v) {
	return JSON.parse(JSON.stringify(v));
}

test("build writes js/usbStream.<8 hex>.js and prints its path", () => {
	const b = build();
	assert.match(b.name, /^usbStream\.[0-9a-f]{8}\.js$/);
	assert.equal(b.stdout, b.file + "\n");
	assert.equal(path.dirname(b.file), path.join(b.outDir, "js"));
	console.log(`chunk ${b.name}: ${Buffer.byteLength(b.text)} bytes`);
});

test("build is deterministic", () => {
	const a = build(), b = build();
	assert.equal(a.name, b.name);
	assert.equal(a.text, b.text);
});

test("a rebuild leaves only one usbStream .js in js/", () => {
	const a = build();
	const stale = path.join(a.outDir, "js", "usbStream.00000000.js");
	fs.writeFileSync(stale, "old");
	fs.writeFileSync(path.join(a.outDir, "js", "other.js"), "keep");
	build(a.outDir);
	const left = fs.readdirSync(path.join(a.outDir, "js")).sort();
	assert.deepEqual(left, [a.name, "other.js"].sort());
});

test("chunk id is exactly usbStream and the only module key is exactly ./src/plugins/usbStream/index.js", () => {
	const { text } = build();
	assert.ok(text.startsWith(PREFIX), "chunk starts with the webpack JSONP push");
	assert.ok(text.endsWith("}}]);\n"));
	const q = pushed(text);
	assert.equal(q.length, 1);
	const [ids, mods] = q[0];
	assert.deepEqual(plain(ids), ["usbStream"]);
	assert.deepEqual(Object.keys(mods), ["./src/plugins/usbStream/index.js"]);
	assert.equal(typeof mods["./src/plugins/usbStream/index.js"], "function");
});

test("the module registers the route and i18n through DWC's named modules only", () => {
	const [[, mods]] = pushed(build().text);
	const required = [], routes = [], i18n = [];
	const esm = (o) => Object.defineProperty({ ...o }, "__esModule", { value: true });
	const dwc = {
		"./src/routes/index.ts": esm({ registerRoute: (c, r) => routes.push([c, r]) }),
		"./src/i18n/index.ts": esm({ registerPluginLocalization: (...a) => i18n.push(a) }),
		"./src/store/index.ts": esm({ default: {} }),
	};
	const req = (name) => {
		required.push(name);
		if (!dwc[name]) throw new Error("unexpected module " + name);
		return dwc[name];
	};
	const module = { exports: {} };
	mods["./src/plugins/usbStream/index.js"].call(module.exports, module, module.exports, req);
	assert.deepEqual([...new Set(required)].sort(), Object.keys(dwc).sort());
	assert.equal(routes.length, 1);
	assert.deepEqual(plain(routes[0][1]), {
		Plugins: { UsbStream: { icon: "mdi-webcam", caption: "plugins.usbStream.menuCaption", path: "/Plugins/UsbStream" } },
	});
	const comp = routes[0][0];
	assert.equal(typeof comp.render, "function", "template precompiled to a render function");
	assert.match(comp._scopeId, /^data-v-[0-9a-f]{8}$/);
	assert.equal(i18n.length, 1);
	assert.equal(i18n[0][0], "usbStream");
	assert.equal(i18n[0][1], "en");
	assert.equal(typeof i18n[0][2].menuCaption, "string");
});

test("i18n registering twice (plugin reloaded) does not stop the route", () => {
	const [[, mods]] = pushed(build().text);
	let routes = 0;
	const esm = (o) => Object.defineProperty({ ...o }, "__esModule", { value: true });
	const dwc = {
		"./src/routes/index.ts": esm({ registerRoute: () => routes++ }),
		"./src/i18n/index.ts": esm({ registerPluginLocalization: () => { throw new Error("already registered"); } }),
		"./src/store/index.ts": esm({ default: {} }),
	};
	const module = { exports: {} };
	mods["./src/plugins/usbStream/index.js"].call(module.exports, module, module.exports, (n) => dwc[n]);
	assert.equal(routes, 1);
});
