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

export const fullStatus = () => JSON.parse(fs.readFileSync(path.join(ROOT, "test/fixtures/status.json"), "utf8"));

// Like Go's status.Summary as published in plugins.usbStream.data.status.
export function summary(over = {}) {
	return {
		version: "0.1.0",
		pid: 4242,
		startedAt: new Date(Date.now() - 3723000).toISOString(),
		state: "streaming",
		waiting: false,
		kind: "camera",
		device: "/dev/video0",
		name: "HD Pro Webcam C920",
		format: "MJPG",
		width: 1280,
		height: 720,
		targetFps: 30,
		measuredFps: 29,
		clients: 2,
		clientList: [
			{ kind: "stream", remote: "192.168.1.20:51234", fps: 29 },
			{ kind: "snapshot", remote: "192.168.1.21:40000", fps: 1 },
		],
		http: { host: "0.0.0.0", port: 8090, streamPath: "/stream", snapshotPath: "/snapshot", auth: false },
		config: { file: "/opt/dsf/sd/sys/usbStream/usbStream.config", loadedAt: new Date().toISOString(), ok: true, changed: ["fps"] },
		...over,
	};
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
