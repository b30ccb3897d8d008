// Shared by the tests: building the chunk into a temporary folder and
// status/camera documents shaped like the Go side's.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export function build(outDir = fs.mkdtempSync(path.join(os.tmpdir(), "usbstream-dwc-"))) {
	const stdout = execFileSync(process.execPath, ["build.mjs", outDir], { cwd: ROOT, encoding: "utf8", timeout: 60000 });
	const file = stdout.trim();
	return { outDir, stdout, file, name: path.basename(file), text: fs.readFileSync(file, "utf8") };
}

const fixture = (name) => JSON.parse(fs.readFileSync(path.join(ROOT, "test/fixtures", name), "utf8"));

// A /status document from a real run (internal/status checks that the
// fixture has the shape Go gives it).
export const fullStatus = () => fixture("status.json");

// Go's status.Summary as published in plugins.usbStream.data.status: a part
// of the /status document (fixtures/summary.json, checked the same way),
// started 1 h 2 min 3 s ago. over replaces top-level parts; over.source is
// merged into the source.
export function summary(over = {}) {
	const s = fixture("summary.json");
	s.startedAt = new Date(Date.now() - 3723000).toISOString();
	s.config.loadedAt = new Date().toISOString();
	const { source, ...rest } = over;
	return { ...s, ...rest, source: { ...s.source, ...source } };
}

export function cameras() {
	return [
		{
			path: "/dev/video2", index: 1, name: "Other Cam", driver: "uvcvideo", busInfo: "usb-2",
			formats: [{ fourcc: "YUYV", description: "YUYV 4:2:2", sizes: [{ width: 320, height: 240, fps: [30] }] }],
		},
		{
			path: "/dev/video0", index: 0, name: "HD Pro Webcam C920", driver: "uvcvideo", busInfo: "usb-1",
			byId: ["/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920-video-index0"],
			formats: [
				{ fourcc: "MJPG", description: "Motion-JPEG", sizes: [
					{ width: 1920, height: 1080, fps: [30, 15] },
					{ width: 1280, height: 720, fps: [30, 15, 7.5] },
				] },
				{ fourcc: "YUYV", description: "YUYV 4:2:2", sizes: [{ width: 640, height: 480, fps: [30] }] },
			],
		},
	];
}
