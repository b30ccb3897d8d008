// Entry module of the DWC chunk: DWC runs it once after loading the chunk.
import { registerRoute } from "@/routes";
import { registerPluginLocalization } from "@/i18n";
import UsbStream from "./UsbStream.vue";

try {
	registerPluginLocalization("usbStream", "en", {
		menuCaption: "Webcam (usbStream)",
	});
} catch (e) {
	// DWC throws when the plugin is loaded a second time in the same page; the messages are there already.
}

registerRoute(UsbStream, {
	Plugins: {
		UsbStream: {
			icon: "mdi-webcam",
			caption: "plugins.usbStream.menuCaption",
			path: "/Plugins/UsbStream",
		},
	},
});
