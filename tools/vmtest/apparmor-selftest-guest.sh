#!/bin/sh
# The guest half of tools/vmtest/apparmor-selftest.sh (busybox sh, run as
# root in a vmtest guest booted with --apparmor). It loads the AppArmor
# profile that DSF generates for usbStream (/data/usbStream.profile), runs
# programs under it and checks what the profile allows and denies, first
# with busybox tools, then one system call at a time with aaprobe, a Go
# program like usbStream. Every check prints "PASS: ..." or "FAIL: ...";
# the last line is "apparmor-selftest: PASS" or "apparmor-selftest: FAIL".
#
# Confinement is by path, as DSF does it: the profile attaches to whatever
# is executed from under /opt/dsf/plugins/usbStream/, so copies of busybox
# and aaprobe there run confined while /bin's run unconfined.

profile_file=/data/usbStream.profile
profile='/opt/dsf/plugins/usbStream/**'
dir=/opt/dsf/plugins/usbStream/dsf
sysdir=/opt/dsf/sd/sys/usbStream
failed=0

pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*"
	failed=1
}

# busybox picks the applet from argv[0], and "bb" is none; so run the copy
# under the name busybox. exec -a keeps the path, and so the confinement.
# shellcheck disable=SC3038 # busybox ash's exec has -a
confined() { (exec -a busybox "$dir/bb" "$@"); }

# expect WHAT WANT GOT: pass when GOT starts with WANT.
expect() {
	case $3 in
	"$2"*) pass "$1: $3" ;;
	*) fail "$1: got '$3', want '$2...'" ;;
	esac
}

# wait_for FILE TEXT: up to 10 s for a background probe to say it is ready.
wait_for() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le 100 ] || return 1
		sleep 0.1
	done
}

[ "${VMTEST_APPARMOR:-}" = 1 ] || {
	echo "apparmor-selftest: FAIL (run the guest with run.sh --apparmor)"
	exit 1
}

# --- load the profile -------------------------------------------------------

# DSF runs /usr/sbin/apparmor_parser -r; do the same, twice, because DSF
# reloads the profile whenever the plugin is installed again.
for n in 1 2; do
	if out=$(/usr/sbin/apparmor_parser -r "$profile_file" 2>&1); then
		pass "apparmor_parser -r loads DSF's profile (load $n)${out:+; it said: $out}"
	else
		fail "apparmor_parser -r $profile_file: $out"
	fi
done
if grep -qxF "$profile (enforce)" /sys/kernel/security/apparmor/profiles; then
	pass "the kernel lists '$profile (enforce)'"
else
	fail "the kernel does not list the profile: $(cat /sys/kernel/security/apparmor/profiles)"
fi

# --- the scene ---------------------------------------------------------------

mkdir -p "$dir" "$sysdir" /dev/v4l/by-id /run/dsf
cp /bin/busybox "$dir/bb"
cp /bin/aaprobe "$dir/aaprobe"
# World-readable, so that only AppArmor can refuse it.
echo vmtest-secret >/etc/shadow-test
chmod 0644 /etc/shadow-test
ln -s ../../video0 /dev/v4l/by-id/x
echo '{}' >"$sysdir/config.json"

# --- busybox: the checks a shell user would make -----------------------------

expect "confined cat /proc/self/attr/current" "$profile (enforce)" "$(confined cat /proc/self/attr/current 2>&1)"
expect "unconfined cat /proc/self/attr/current" "unconfined" "$(cat /proc/self/attr/current 2>&1)"
if got=$(confined cat /etc/shadow-test 2>&1); then
	fail "confined cat /etc/shadow-test worked: $got"
else
	expect "confined cat /etc/shadow-test (mode 0644) is refused" "cat: can't open '/etc/shadow-test': Permission denied" "$got"
fi
expect "unconfined cat /etc/shadow-test" "vmtest-secret" "$(cat /etc/shadow-test 2>&1)"
if got=$(confined ls /dev 2>&1); then
	fail "confined ls /dev worked: $(echo "$got" | head -n3)"
else
	expect "confined ls /dev is refused" "ls: can't open '/dev': Permission denied" "$got"
fi
got=$(ls /dev 2>&1)
case $got in
*video0*) pass "unconfined ls /dev: $(echo "$got" | wc -l) entries, video0 among them" ;;
*) fail "unconfined ls /dev: $got" ;;
esac
got=$(confined ls /sys/class/video4linux 2>&1)
if echo "$got" | grep -qx video0; then
	pass "confined ls /sys/class/video4linux: $(echo "$got" | paste -sd' ')"
else
	fail "confined ls /sys/class/video4linux: $got"
fi
expect "confined open /dev/video0 read-write" "opened" "$(confined sh -c 'exec 3<>/dev/video0 && echo opened' 2>&1)"
expect "confined open /dev/v4l/by-id/x (-> ../../video0) read-write" "opened" "$(confined sh -c 'exec 3<>/dev/v4l/by-id/x && echo opened' 2>&1)"
expect "confined stat /dev" "/dev directory" "$(confined stat -c '%n %F' /dev 2>&1)"
expect "confined stat (lstat) /dev/v4l/by-id/x" "/dev/v4l/by-id/x symbolic link" "$(confined stat -c '%n %F' /dev/v4l/by-id/x 2>&1)"
expect "confined readlink /dev/v4l/by-id/x" "../../video0" "$(confined readlink /dev/v4l/by-id/x 2>&1)"
expect "confined ls -l /dev/v4l/by-id/x" "lrwxrwxrwx" "$(confined ls -l /dev/v4l/by-id/x 2>&1)"
expect "confined ls /dev/v4l/by-id is refused" "ls: can't open '/dev/v4l/by-id': Permission denied" "$(confined ls /dev/v4l/by-id 2>&1)"
# busybox sh is not standalone here: it execs /bin/true, which the profile
# does not allow (it has no x rule except for python).
expect "confined sh -c /bin/true cannot exec" "sh: /bin/true: Permission denied" "$(confined sh -c /bin/true 2>&1)"
expect "aa-exec -p PROFILE confines a binary anywhere" "$profile (enforce)" "$(aa-exec -p "$profile" -- /bin/cat /proc/self/attr/current 2>&1)"

# --- aaprobe: one system call at a time ---------------------------------------

# Peers for the connect-unix checks: DSF's socket, and one no rule names.
/bin/aaprobe listen-unix /run/dsf/dcs.sock >/dev/null 2>/tmp/listen1 &
l1=$!
/bin/aaprobe listen-unix /etc/vmtest.sock >/dev/null 2>/tmp/listen2 &
l2=$!
wait_for /tmp/listen1 listening || fail "unconfined listen-unix /run/dsf/dcs.sock did not start: $(cat /tmp/listen1)"
wait_for /tmp/listen2 listening || fail "unconfined listen-unix /etc/vmtest.sock did not start: $(cat /tmp/listen2)"

# OP PATH WANT: what the profile does to each call, with the reason.
while read -r op path want; do
	case $op in '' | '#'*) continue ;; esac
	got=$("$dir/aaprobe" "$op" "$path" 2>&1)
	expect "confined $op $path" "$want" "${got#"$op $path: "}"
done <<'EOF'
read /proc/self/attr/current ok /opt/dsf/plugins/usbStream/** (enforce)
# Files: only the profile's rules and the abstractions' open files.
read /etc/shadow-test EACCES
read /etc/passwd ok
read /etc/hosts ok
stat /etc/shadow-test ok regular file
read /sys/class/video4linux/video0/name ok vivid-000-vid-cap
read /sys/kernel/mm/transparent_hugepage/hpage_pmd_size ok
read /opt/dsf/sd/sys/usbStream/config.json ok {}
open-rw /dev/null ok
open-rw /dev/console EACCES
# Directories: listing needs an r rule for "dir/" itself; /x/** does not
# cover /x/.
readdir /dev EACCES
glob /dev/video* ok 0 matches
readdir /dev/v4l/by-id EACCES
readdir /sys/class/video4linux ok
readdir /proc EACCES
readdir /proc/self/fd ok
readdir /etc EACCES
readdir /run/dsf EACCES
readdir /opt/dsf/sd/sys/usbStream ok
readdir /opt/dsf/plugins/usbStream ok
# Video nodes: open and ioctl, directly and through a by-id link.
querycap /dev/video0 ok vivid
querycap /dev/v4l/by-id/x ok vivid
# stat, lstat and readlink are not mediated, anywhere.
stat /dev ok directory
lstat /dev ok directory
stat /dev/video0 ok char device
stat /dev/v4l/by-id/x ok char device
lstat /dev/v4l/by-id/x ok symlink
readlink /dev/v4l/by-id/x ok ../../video0
evalsymlinks /dev/v4l/by-id/x ok /dev/video0
readlink /sys/class/video4linux/video0 ok ../../devices/platform/vivid.0/video4linux/video0
evalsymlinks /sys/class/video4linux/video0 ok /sys/devices/platform/vivid.0/video4linux/video0
# inotify_add_watch is not mediated either, even where open is refused.
inotify /opt/dsf/sd/sys/usbStream ok
inotify /opt/dsf/sd/sys ok
inotify /dev ok
inotify /etc ok
inotify /etc/shadow-test ok
# Sockets: "network," allows IP; connecting to a Unix socket by path.
listen-tcp 127.0.0.1:0 ok 127.0.0.1:
connect-unix /run/dsf/dcs.sock ok
connect-unix /etc/vmtest.sock ok
# Executing anything is refused: the profile has no x rule but python's.
exec /bin/busybox EACCES
exec /opt/dsf/plugins/usbStream/dsf/aaprobe EACCES
EOF
kill "$l1" "$l2" 2>/dev/null

# An inotify watch does deliver events: a save by an unconfined process
# (DSF writing the plugin's config) reaches the confined watcher.
"$dir/aaprobe" inotify-wait "$sysdir" >/tmp/inotify.out 2>/tmp/inotify.err &
w=$!
if wait_for /tmp/inotify.err watching; then
	echo '{"quality":80}' >"$sysdir/config.json"
fi
wait "$w"
got=$(cat /tmp/inotify.out)
expect "confined inotify-wait $sysdir, then an unconfined write" "ok event" "${got#"inotify-wait $sysdir: "}$(grep -v watching /tmp/inotify.err)"

# --- unload -----------------------------------------------------------------

if out=$(/usr/sbin/apparmor_parser -R "$profile_file" 2>&1); then
	pass "apparmor_parser -R unloads the profile${out:+; it said: $out}"
else
	fail "apparmor_parser -R $profile_file: $out"
fi
expect "after -R the copy runs unconfined" "unconfined" "$(confined cat /proc/self/attr/current 2>&1)"

# The refusals are AppArmor's, not the file modes': the kernel logs each.
audit=$(dmesg | grep -a 'apparmor="DENIED"')
for name in /etc/shadow-test /dev/; do
	if echo "$audit" | grep -F 'operation="open"' | grep -F "profile=\"$profile\"" | grep -qF "name=\"$name\""; then
		pass "dmesg has apparmor=\"DENIED\" operation=\"open\" profile=\"$profile\" name=\"$name\""
	else
		fail "dmesg has no apparmor=\"DENIED\" record for opening $name"
	fi
done
echo "kernel audit records (dmesg):"
echo "$audit" | sed 's/^\[[^]]*\] /  /'

if [ "$failed" = 0 ]; then
	echo "apparmor-selftest: PASS"
else
	echo "apparmor-selftest: FAIL"
fi
exit "$failed"
