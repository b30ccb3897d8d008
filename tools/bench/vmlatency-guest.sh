#!/bin/sh
# Guest side of tools/bench/vmlatency.sh (busybox sh in a vmtest VM):
# usbStream (the release binary, /bin/usbStream) captures vivid's YUYV at
# $RES and $FPS, one viewer (mjpegstat) reads /stream, and each part's age is
# its receipt time minus its X-Timestamp (capture time, CLOCK_REALTIME).
res=${RES:-640x480} fps=${FPS:-25} label=${LABEL:-}
# vivid stamps a buffer with its end of frame, 0.9 frame interval after it
# started, which is still ahead of the clock when the buffer is dequeued;
# usbStream then falls back to its dequeue time. Start of Exposure makes the
# stamps the capture times.
mjpegstat -setctrl /dev/video0:0x00f0f018=1 || exit 1
usbStream -host 127.0.0.1 -port 8080 -camera 0 -format YUYV -resolution "$res" -framerate "$fps" >/tmp/usbStream.log 2>&1 &
pid=$!
i=0
until wget -q -O /dev/null http://127.0.0.1:8080/status; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "usbStream did not start"; cat /tmp/usbStream.log; exit 1; }
	sleep 0.2
done
mjpegstat -n "${VIEWERS:-1}" -warmup "${WARMUP:-5s}" -duration "${DURATION:-10s}" -windows "${WINDOWS:-3}" \
	-pid $pid -label "$label" http://127.0.0.1:8080/stream
rc=$?
wget -q -O - http://127.0.0.1:8080/status | head -c 600; echo
kill $pid
wait $pid
exit $rc
