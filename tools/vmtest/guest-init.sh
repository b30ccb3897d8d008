#!/bin/sh
# PID 1 of the vmtest guest (busybox ash, not bash). run.sh packs it as /init
# into the cached base initramfs; the per-run part (/vmtest/env, /vmtest/cmd,
# binaries, files) comes from a second cpio archive the kernel unpacks on top.
#
# Contract with run.sh: exactly one "VMTEST-EXIT <status> <run id>" line when
# the command finished, or "VMTEST-SETUP-FAILED <run id> <reason>" when the
# guest could not be prepared. The run id is a per-run nonce so that a test
# echoing the marker cannot fake a result.
#
# No "set -e": PID 1 exiting panics the kernel and hides the real cause, so
# every failure is reported through the markers instead.

export PATH=/bin:/sbin HOME=/root TMPDIR=/tmp TERM=dumb
VMTEST_RUN_ID=unknown

uptime_s() { cut -d' ' -f1 /proc/uptime; }

finish() {
	# The kernel's serial driver transmits from an interrupt-driven ring
	# buffer, so bytes written just before a forced power-off can be lost;
	# stty's TCSADRAIN waits until the UART has sent everything.
	stty -F /dev/console "$(stty -F /dev/console -g)" 2>/dev/null
	sync
	poweroff -f
	# poweroff -f needs ACPI; should it ever return, make PID 1 exit instead:
	# with panic=-1 and qemu -no-reboot that also ends the VM.
	exit 1
}

setup_failed() {
	echo "VMTEST-SETUP-FAILED $VMTEST_RUN_ID $*"
	finish
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
# The kernel's built-in initramfs only provides /dev/console; devtmpfs gives
# the /dev/video* nodes that vivid registers.
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp

[ -r /vmtest/env ] || setup_failed "no /vmtest/env in the initramfs"
# shellcheck source=/dev/null # written per run by run.sh
. /vmtest/env

ip link set lo up || setup_failed "cannot bring up lo"

apparmor=
if [ "$VMTEST_APPARMOR" = 1 ]; then
	# apparmor_parser loads policy through securityfs, which only a full
	# init system would mount. Check the kernel side before the command
	# runs, so that a test seeing VMTEST_APPARMOR=1 can rely on it.
	mount -t securityfs securityfs /sys/kernel/security ||
		setup_failed "cannot mount securityfs on /sys/kernel/security"
	lsms=$(cat /sys/kernel/security/lsm 2>/dev/null)
	[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] ||
		setup_failed "AppArmor is not enabled: /sys/module/apparmor/parameters/enabled is not Y (active LSMs: ${lsms:-unknown})"
	[ -e /sys/kernel/security/apparmor/profiles ] ||
		setup_failed "AppArmor is enabled but /sys/kernel/security/apparmor/profiles is missing (active LSMs: ${lsms:-unknown})"
	# Catches a missing library or ELF interpreter in the initramfs.
	aaparser=$(/sbin/apparmor_parser --version 2>&1) ||
		setup_failed "/sbin/apparmor_parser does not run: $(echo "$aaparser" | head -n1)"
	apparmor="; AppArmor on (LSMs $lsms; $(echo "$aaparser" | head -n1))"
	# aa-exec, aa-status and aa-enabled are where Debian has them.
	PATH=$PATH:/usr/sbin:/usr/bin
	# Without auditd the kernel prints AppArmor's audit records (the
	# apparmor="DENIED" lines in dmesg) through printk_ratelimit(), which
	# would drop all but 10 in 5 s; tests want every one of them.
	echo 0 >/proc/sys/kernel/printk_ratelimit
	export VMTEST_APPARMOR
fi

# insmod rather than modprobe: the initramfs carries only the media modules,
# flat in /lib/modules, with no modules.dep, and the order file is already
# topologically sorted by run.sh.
while read -r mod; do
	[ -n "$mod" ] || continue
	if [ "$mod" = vivid ]; then
		[ "$VMTEST_LOAD_VIVID" = 1 ] || continue
		# Word splitting is wanted: VIVID_PARAMS is a list of key=value.
		# shellcheck disable=SC2086
		insmod /lib/modules/vivid.ko $VIVID_PARAMS || setup_failed "insmod vivid $VIVID_PARAMS failed"
	else
		insmod "/lib/modules/$mod.ko" || setup_failed "insmod $mod failed"
	fi
done </lib/modules/vmtest.order

if [ "$VMTEST_LOAD_VIVID" = 1 ]; then
	# Device nodes appear from the driver's probe; give devtmpfs a moment
	# rather than letting the first test race it.
	i=0
	while ! ls /dev/video* >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -le 50 ] || setup_failed "vivid loaded but no /dev/video* appeared"
		sleep 0.1
	done
fi

if [ "$VMTEST_LOAD_VIVID" = 1 ]; then
	vivid="loaded ${VIVID_PARAMS:-(default parameters)}"
else
	vivid="not loaded"
fi
nodes=$(echo /dev/video*)
[ "$nodes" != "/dev/video*" ] || nodes=none
echo "vmtest-init: kernel $(uname -r), ready at $(uptime_s) s uptime; vivid $vivid; nodes: $nodes$apparmor"

cd "$VMTEST_WORKDIR" || setup_failed "cannot cd to $VMTEST_WORKDIR"
# stdin from /dev/null: nothing can type into the console, so a command
# reading stdin would otherwise hang until the host's timeout.
sh /vmtest/cmd </dev/null
status=$?
cd /
echo "vmtest-init: command finished at $(uptime_s) s uptime"
echo "VMTEST-EXIT $status $VMTEST_RUN_ID"
finish
