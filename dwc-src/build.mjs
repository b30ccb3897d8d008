// node build.mjs OUTDIR
//
// Builds the usbStream DWC tab without a DWC checkout: Vue SFCs are compiled
// to render functions (DWC ships the runtime-only Vue), esbuild bundles them
// as CommonJS with DWC's own modules left external, and the result is wrapped
// into the webpack-5 JSONP chunk DWC loads for an external plugin.
// Writes OUTDIR/js/usbStream.<hash>.js and prints its path on stdout.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import esbuild from "esbuild";
import { parse, compileTemplate, compileStyle, rewriteDefault } from "vue/compiler-sfc";

export const PLUGIN_ID = "usbStream";
export const MODULE_KEY = `./src/plugins/${PLUGIN_ID}/index.js`;
const HERE = path.dirname(fileURLToPath(import.meta.url));

// Import specifiers as DWC's own sources write them → DWC's named webpack modules.
const DWC_MODULES = {
	"@/routes": "./src/routes/index.ts",
	"@/store": "./src/store/index.ts",
	"@/i18n": "./src/i18n/index.ts",
	"@/plugins": "./src/plugins/index.ts",
	vue: "./node_modules/vue/dist/vue.runtime.esm.js",
	vuetify: "./node_modules/vuetify/dist/vuetify.js",
};

function dwcModuleName(spec) {
	if (DWC_MODULES[spec]) return DWC_MODULES[spec];
	const m = /^@\/utils\/([\w-]+)$/.exec(spec);
	return m ? `./src/utils/${m[1]}.ts` : null;
}

const dwcExternals = {
	name: "dwc-externals",
	setup(b) {
		b.onResolve({ filter: /^(@\/|vue$|vuetify$)/ }, (args) => {
			const name = dwcModuleName(args.path);
			if (!name) {
				return { errors: [{ text: `${args.path} is not a module DWC exposes to plugins` }] };
			}
			return { path: name, external: true };
		});
	},
};

// The scope id depends only on the file's path inside dwc-src, so builds are reproducible.
function scopeId(rel) {
	return "data-v-" + createHash("sha256").update(rel).digest("hex").slice(0, 8);
}

const vueSfc = {
	name: "vue-sfc",
	setup(b) {
		b.onLoad({ filter: /\.vue$/ }, async (args) => {
			const rel = path.relative(HERE, args.path).split(path.sep).join("/");
			const source = await fs.promises.readFile(args.path, "utf8");
			const sfc = parse({ source, filename: rel, sourceMap: false });
			const errors = (sfc.errors || []).map((e) => ({ text: String(e.msg || e) }));
			if (!sfc.template || sfc.scriptSetup) {
				errors.push({ text: `${rel}: needs a <template> and a plain <script> (no <script setup>)` });
			}
			if (errors.length) return { errors };

			const tpl = compileTemplate({ source: sfc.template.content, filename: rel, prettify: false, isProduction: true });
			if (tpl.errors.length) {
				return { errors: tpl.errors.map((e) => ({ text: `${rel}: ${e.msg || e}` })) };
			}
			const id = scopeId(rel);
			const scoped = sfc.styles.some((s) => s.scoped);
			let css = "";
			for (const style of sfc.styles) {
				if (style.lang) return { errors: [{ text: `${rel}: <style lang="${style.lang}"> is not supported` }] };
				const out = compileStyle({ source: style.content, filename: rel, id, scoped: !!style.scoped, trim: true });
				if (out.errors.length) return { errors: out.errors.map((e) => ({ text: `${rel}: ${e.message || e}` })) };
				css += out.code + "\n";
			}
			const script = sfc.script ? rewriteDefault(sfc.script.content, "__sfc__") : "const __sfc__ = {};";
			const code = [
				script,
				tpl.code,
				"__sfc__.render = render;",
				"__sfc__.staticRenderFns = staticRenderFns;",
				scoped ? `__sfc__._scopeId = ${JSON.stringify(id)};` : "",
				// DWC loads no CSS file for us unless dwcFiles lists one; a <style> element is simpler.
				css ? `if (typeof document !== "undefined" && !document.getElementById(${JSON.stringify(id)})) {
	const el = document.createElement("style");
	el.id = ${JSON.stringify(id)};
	el.textContent = ${JSON.stringify(css)};
	document.head.appendChild(el);
}` : "",
				"export default __sfc__;",
			].join("\n");
			return { contents: code, loader: "js", resolveDir: path.dirname(args.path) };
		});
	},
};

export function wrapChunk(cjs, chunkId = PLUGIN_ID, moduleKey = MODULE_KEY) {
	return `(self["webpackChunkduetwebcontrol"]=self["webpackChunkduetwebcontrol"]||[]).push([[${JSON.stringify(chunkId)}],{${JSON.stringify(moduleKey)}:function(module,exports,__webpack_require__){\n` +
		// esbuild's CommonJS output calls require() for the externals, which are DWC's module names.
		"var require=__webpack_require__;\n" +
		cjs.trim() +
		"\n}}]);\n";
}

export async function bundle() {
	const result = await esbuild.build({
		absWorkingDir: HERE,
		entryPoints: ["index.js"],
		bundle: true,
		write: false,
		format: "cjs",
		platform: "browser",
		target: "es2019",
		minify: true,
		legalComments: "none",
		charset: "utf8",
		metafile: true,
		logLevel: "silent",
		plugins: [dwcExternals, vueSfc],
	});
	const known = new Set(Object.values(DWC_MODULES));
	for (const out of Object.values(result.metafile.outputs)) {
		for (const imp of out.imports) {
			if (!imp.external || !(known.has(imp.path) || imp.path.startsWith("./src/utils/"))) {
				throw new Error(`unexpected import in the bundle: ${imp.path}`);
			}
		}
	}
	return wrapChunk(result.outputFiles[0].text);
}

async function main() {
	const outDir = process.argv[2];
	if (!outDir) {
		console.error("usage: node build.mjs OUTDIR");
		process.exit(2);
	}
	const chunk = await bundle();
	const hash = createHash("sha256").update(chunk).digest("hex").slice(0, 8);
	const jsDir = path.resolve(outDir, "js");
	fs.mkdirSync(jsDir, { recursive: true });
	const name = `${PLUGIN_ID}.${hash}.js`;
	// DWC takes the first .js in dwcFiles that contains the plugin id, so an old build must not linger.
	for (const f of fs.readdirSync(jsDir)) {
		if (f !== name && new RegExp(`^${PLUGIN_ID}\\.[0-9a-f]{8}\\.js(\\.map|\\.gz)?$`).test(f)) {
			fs.rmSync(path.join(jsDir, f));
		}
	}
	const file = path.join(jsDir, name);
	fs.writeFileSync(file, chunk);
	console.log(file);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	main().catch((e) => {
		console.error(e.errors ? e.message : e.stack || e);
		process.exit(1);
	});
}
