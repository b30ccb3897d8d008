#!/bin/sh
# Guest side of tools/bench/ustreamer.sh (busybox sh in the x86_64 vmtest VM):
# Debian's ustreamer, then usbStream (the release binary), one after the
# other on the same vivid /dev/video0 with the same settings, each measured
# by mjpegstat (one window) with every viewer count in $VIEWERS; $ROUNDS
# rounds of that, so that a busy host slows both alike. The host takes the
# median per label (mjpegstat -median).
#
# Latency clocks: ustreamer's X-UStreamer-Grab-Time is CLOCK_MONOTONIC taken
# when it dequeued the buffer (its X-Timestamp is the send time, so it is not
# used); usbStream's X-Timestamp is CLOCK_REALTIME, the driver's buffer
# timestamp converted, or its dequeue time when that stamp is ahead of the
# clock. vivid's default Timestamp Source (End of Frame) stamps 0.9 frame
# interval after the frame's start, ahead of the clock at dequeue, so in the
# main runs both servers' ages start at their dequeue. The last run sets
# Start of Exposure and measures usbStream from the driver's capture stamp.
res=${RES:-1280x720} fps=${FPS:-12.5} q=${QUALITY:-80}
viewers=${VIEWERS:-1 10} rounds=${ROUNDS:-3}
stat() {
	mjpegstat -warmup "${WARMUP:-5s}" -duration "${DURATION:-10s}" -windows 1 "$@"
}
wait_http() {
	i=0
	until wget -q -O /dev/null "$1"; do
		i=$((i + 1))
		[ $i -lt 150 ] || { echo "no answer from $1"; return 1; }
		sleep 0.2
	done
}
rc=0
echo "guest: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
/usr/bin/ustreamer --version
usbStream -version

# ustreamer: -f is a whole number; vivid answers VIDIOC_S_PARM for
# 1280x720 with 2/25 s (12.5 fps), which ustreamer 4.9 logs as "Invalid HW
# FPS numerator" and then paces its encoders at 1/-f, so -f 30 never drops a
# frame of vivid's 12.5. Its default worker count is the CPU count (max 4).
run_ustreamer() {
	mjpegstat -setctrl /dev/video0:0x00f0f018=0 >/dev/null || exit 1
	/usr/bin/ustreamer -d /dev/video0 -r "$res" -m YUYV -f 30 -q "$q" -s 127.0.0.1 -p 8080 >/tmp/ustreamer.log 2>&1 &
	pid=$!
	wait_http http://127.0.0.1:8080/state || { cat /tmp/ustreamer.log; exit 1; }
	for n in $viewers; do
		stat -n "$n" -header X-UStreamer-Grab-Time -clock monotonic -pid $pid -label "ustreamer N=$n: " \
			'http://127.0.0.1:8080/stream?extra_headers=1' || rc=1
	done
	kill $pid
	wait $pid
}

# usbStream; with $1 = 1, vivid's Start of Exposure stamps: from capture.
run_usbstream() {
	mjpegstat -setctrl /dev/video0:0x00f0f018=$1 >/dev/null || exit 1
	usbStream -host 127.0.0.1 -port 8080 -camera 0 -format YUYV -resolution "$res" -quality "$q" \
		-framerate "$fps" >/tmp/usbStream.log 2>&1 &
	pid=$!
	wait_http http://127.0.0.1:8080/status || { cat /tmp/usbStream.log; exit 1; }
	if [ "$1" = 1 ]; then
		stat -n 1 -pid $pid -label "usbStream SOE N=1: " http://127.0.0.1:8080/stream || rc=1
	else
		for n in $viewers; do
			stat -n "$n" -pid $pid -label "usbStream N=$n: " http://127.0.0.1:8080/stream || rc=1
		done
	fi
	kill $pid
	wait $pid
}

r=1
while [ $r -le "$rounds" ]; do
	echo "round $r/$rounds, uptime $(cut -d' ' -f1 /proc/uptime) s"
	run_ustreamer
	run_usbstream 0
	run_usbstream 1
	r=$((r + 1))
done
grep -E 'HW FPS|workers' /tmp/ustreamer.log
exit $rc
