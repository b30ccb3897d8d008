#!/usr/bin/env bash
# Runs a command inside a throwaway qemu VM that boots Debian's stock kernel
# with the vivid V4L2 test driver loaded, so camera code is exercised against
# a real kernel driver instead of a mock. See tools/vmtest/README.md.
#
#   tools/vmtest/run.sh [options] [BIN...] [-- CMD [ARGS...]]
#
# BINs (and --bin) are copied into the guest as /bin/<name>. With "-- CMD",
# CMD runs in the guest; without it every BIN is run in turn, no arguments.
# The script's exit status is the guest command's status; 124 when the hard
# timeout fired, 125 when the VM did not report a status (panic, setup
# failure, qemu error). The last line is always "vmtest: PASS ..." or
# "vmtest: FAIL (<reason>)".
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tools/vmtest/run.sh [options] [BIN...] [-- CMD [ARGS...]]

  BIN, --bin PATH      copy a static binary into the guest as /bin/<name>
  -- CMD [ARGS...]     command to run in the guest (cwd /data); without it,
                       each BIN is run in turn with no arguments
  --file SRC[:DEST]    copy a file or directory into the guest
                       (DEST defaults to /data/<name>)
  --env NAME=VALUE     export NAME into the guest command's environment
  --vivid-params STR   vivid module parameters, e.g. "n_devs=2"
                       (default: $VIVID_PARAMS)
  --no-vivid           load the V4L2 core modules but not vivid
                       (tests can insmod /lib/modules/vivid.ko themselves)
  --apparmor           boot with AppArmor active, securityfs mounted and
                       Debian's apparmor_parser, aa-exec and abstractions
                       in the guest; the command gets VMTEST_APPARMOR=1
  --timeout SECONDS    hard limit for the whole VM run (default: $VMTEST_TIMEOUT or 600)
  --mem MB             guest memory (default: $VMTEST_MEM or 512)
  --smp N              guest CPUs (default: $VMTEST_SMP or 1)
  --log FILE           also write the console log to FILE
  --arch ARCH          the machine: amd64 (default; qemu-system-x86_64),
                       arm64 (qemu-system-aarch64 -M virt -cpu cortex-a72,
                       Debian's arm64 kernel) or arm (qemu-system-arm -M virt
                       -cpu cortex-a15, Debian's armmp-lpae kernel; armhf);
                       binaries must be built for it (default: $VMTEST_ARCH)
  -k, --keep           keep the work directory (initramfs, console log)
  -h, --help           this text

environment: VMTEST_CACHE (cache dir, default ${XDG_CACHE_HOME:-$HOME/.cache}/usbstream-vmtest),
  VMTEST_KERNEL (pin a kernel ABI such as 6.1.0-56-amd64), VMTEST_INSTALL=1
  (as root: apt-get install what is missing), VMTEST_APPEND (extra kernel
  command line), VMTEST_BUSYBOX (static busybox, default /bin/busybox).
EOF
}

say() { echo "vmtest: $*" >&2; }
die() {
	echo "vmtest: FAIL (setup: $*)"
	exit 125
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Insertion order for insmod: each module after the ones it depends on
# (checked against the depends= field of Debian 6.1's modules).
modules=(rc-core cec mc videodev videobuf2-common videobuf2-memops videobuf2-v4l2
	videobuf2-vmalloc videobuf2-dma-contig v4l2-dv-timings v4l2-tpg vivid)

bins=()
files=()
envs=()
cmd=()
have_cmd=0
vivid_params=${VIVID_PARAMS:-}
load_vivid=1
apparmor=0
timeout_s=${VMTEST_TIMEOUT:-600}
mem=${VMTEST_MEM:-512}
smp=${VMTEST_SMP:-1}
log_copy=
keep=0
cache=${VMTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/usbstream-vmtest}
busybox=${VMTEST_BUSYBOX:-}
arch=${VMTEST_ARCH:-amd64}

need_arg() { [[ $# -ge 2 ]] || die "$1 needs an argument"; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--) shift; cmd=("$@"); have_cmd=1; break ;;
	-h | --help) usage; exit 0 ;;
	-k | --keep) keep=1 ;;
	--bin) need_arg "$@"; bins+=("$2"); shift ;;
	--file) need_arg "$@"; files+=("$2"); shift ;;
	--env) need_arg "$@"; envs+=("$2"); shift ;;
	--vivid-params) need_arg "$@"; vivid_params=$2; shift ;;
	--no-vivid) load_vivid=0 ;;
	--apparmor) apparmor=1 ;;
	--timeout) need_arg "$@"; timeout_s=$2; shift ;;
	--mem) need_arg "$@"; mem=$2; shift ;;
	--smp) need_arg "$@"; smp=$2; shift ;;
	--log) need_arg "$@"; log_copy=$2; shift ;;
	--arch) need_arg "$@"; arch=$2; shift ;;
	-*) usage >&2; die "unknown option $1" ;;
	*) bins+=("$1") ;;
	esac
	shift
done

# What differs between the machines: Debian's architecture name, the kernel
# metapackage that names the current kernel, the package holding that
# kernel's image and modules, qemu and its machine, the console, and the
# qemu-user emulator that runs the guest's busybox on this host.
case $arch in
amd64)
	debarch=amd64 kmeta=linux-image-amd64 kflavour=amd64
	qemu_bin=qemu-system-x86_64 qemu_pkg=qemu-system-x86 qemu_machine=() console=ttyS0 qemu_user= ;;
arm64)
	# The signed image is the same kernel wrapped for Secure Boot, which
	# -kernel does not need.
	debarch=arm64 kmeta=linux-image-arm64:arm64 kflavour=arm64
	qemu_bin=qemu-system-aarch64 qemu_pkg=qemu-system-arm qemu_machine=(-M virt -cpu cortex-a72)
	console=ttyAMA0 qemu_user=qemu-aarch64-static ;;
arm)
	# LPAE, as on a Raspberry Pi 2 and later; highmem=off keeps the PCI
	# window below 4 GB, where a 32-bit kernel can claim it. cortex-a15
	# has NEON, which the release build's libjpeg-turbo uses.
	debarch=armhf kmeta=linux-image-armmp-lpae:armhf kflavour=armmp-lpae
	qemu_bin=qemu-system-arm qemu_pkg=qemu-system-arm qemu_machine=(-M virt,highmem=off -cpu cortex-a15)
	console=ttyAMA0 qemu_user=qemu-arm-static ;;
*) die "--arch wants amd64, arm64 or arm, got '$arch'" ;;
esac
[[ $arch == amd64 || $apparmor == 0 ]] || die "--apparmor needs --arch amd64 (the AppArmor userspace is the host's)"

[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "--timeout wants whole seconds, got '$timeout_s'"
[[ $mem =~ ^[1-9][0-9]*$ ]] || die "--mem wants megabytes, got '$mem'"
[[ $smp =~ ^[1-9][0-9]*$ ]] || die "--smp wants a CPU count, got '$smp'"
if [[ $have_cmd == 1 && ${#cmd[@]} -eq 0 ]]; then die "nothing after --"; fi
if [[ $have_cmd == 0 && ${#bins[@]} -eq 0 ]]; then usage >&2; die "give binaries to run or -- CMD"; fi
for b in "${bins[@]}"; do
	[[ -f $b ]] || die "binary $b not found"
done
for e in "${envs[@]}"; do
	[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE, got '$e'"
done

# --- host prerequisites -----------------------------------------------------

apt_updated=0
apt_update_once() {
	if [[ $apt_updated == 0 ]]; then
		say "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
		apt_updated=1
	fi
}

can_install() { [[ ${VMTEST_INSTALL:-0} == 1 && $(id -u) == 0 ]]; }

is_static() {
	local out
	out=$(LC_ALL=C ldd "$1" 2>&1 || true)
	[[ $out == *"not a dynamic executable"* || $out == *"statically linked"* ]]
}

for t in dpkg-deb apt-get apt-cache gzip sha256sum timeout flock mkfifo od; do
	command -v "$t" >/dev/null || die "$t not found; vmtest needs a Debian-like host"
done

if [[ -n $busybox ]] && { [[ ! -x $busybox ]] || ! is_static "$busybox"; }; then
	die "VMTEST_BUSYBOX=$busybox is not a static executable"
fi

missing_packages() {
	command -v "$qemu_bin" >/dev/null || echo "$qemu_pkg"
	command -v cpio >/dev/null || echo cpio
	if [[ $arch == amd64 ]]; then
		# The guest has no libc, so only busybox-static's /bin/busybox works.
		if [[ -z ${VMTEST_BUSYBOX:-} ]] && { [[ ! -x /bin/busybox ]] || ! is_static /bin/busybox; }; then echo busybox-static; fi
	else
		command -v "$qemu_user" >/dev/null || echo qemu-user-static
	fi
}

mapfile -t missing < <(missing_packages)
if [[ ${#missing[@]} -gt 0 ]]; then
	can_install || die "missing packages; run: sudo apt-get install --no-install-recommends ${missing[*]} (or, as root, rerun with VMTEST_INSTALL=1)"
	apt_update_once
	say "apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
	mapfile -t missing < <(missing_packages)
	[[ ${#missing[@]} -eq 0 ]] || die "still missing after apt-get install: ${missing[*]}"
fi

# A dynamically linked binary would die in the guest with a confusing
# "not found" from the missing ELF interpreter; catch it here. Scripts pass.
for b in "${bins[@]}"; do
	if [[ $(head -c 4 "$b" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]] && ! is_static "$b"; then
		die "$b is dynamically linked; build it with CGO_ENABLED=0"
	fi
done

# A foreign machine's kernel and busybox come from that architecture's
# packages, which apt lists only once dpkg knows the architecture.
if [[ $arch != amd64 ]] && ! dpkg --print-foreign-architectures | grep -qx "$debarch"; then
	can_install || die "apt does not know architecture $debarch; run: sudo dpkg --add-architecture $debarch && sudo apt-get update (or, as root, rerun with VMTEST_INSTALL=1)"
	say "dpkg --add-architecture $debarch"
	dpkg --add-architecture "$debarch"
	apt_updated=0
	apt_update_once
fi

# --- kernel: resolve, download, extract (cached) ----------------------------

mkdir -p "$cache"
exec {lockfd}>"$cache/.lock"
# Concurrent runs share the cache; only one may populate it.
flock "$lockfd"

# fetch_deb SPEC GLOB sets deb to the newest .deb in $cache/debs whose name
# matches GLOB, first downloading SPEC (NAME or NAME=VERSION) if there is
# none. It sets a variable rather than printing the path because die inside
# $(...) would only end the subshell.
fetch_deb() {
	local spec=$1 glob=$2 apt_opts
	mkdir -p "$cache/debs"
	deb=$(find "$cache/debs" -maxdepth 1 -name "$glob" | sort -V | tail -n1)
	[[ -z $deb ]] || return 0
	say "downloading $spec"
	# Into a scratch dir first, so an interrupted download never
	# leaves a truncated .deb that later runs would trust.
	dl=$(mktemp -d "$cache/debs/download.XXXXXX")
	trap 'rm -rf "$dl"' EXIT
	apt_opts=(-qq)
	# As root apt drops to user _apt for downloads and warns that it
	# cannot write the cache dir; the sandbox buys nothing here.
	[[ $(id -u) != 0 ]] || apt_opts+=(-o APT::Sandbox::User=root)
	if ! (cd "$dl" && apt-get "${apt_opts[@]}" download "$spec" >&2); then
		can_install || die "apt-get download $spec failed; run: sudo apt-get update (or, as root, rerun with VMTEST_INSTALL=1)"
		apt_update_once
		(cd "$dl" && apt-get "${apt_opts[@]}" download "$spec" >&2) || die "apt-get download $spec failed"
	fi
	# shellcheck disable=SC2086 # $glob is meant to expand here
	mv "$dl/"$glob "$cache/debs/" || die "apt-get download $spec left no $glob"
	rm -rf "$dl"
	trap - EXIT
	deb=$(find "$cache/debs" -maxdepth 1 -name "$glob" | sort -V | tail -n1)
	[[ -n $deb ]] || die "apt-get download $spec left no $glob"
}

# unpack_deb extracts $deb into a new scratch dir $x, removed at exit unless
# the caller clears the trap; a .deb that does not unpack is deleted, so the
# next run downloads it again instead of trusting it.
unpack_deb() {
	say "extracting $(basename "$deb")"
	x=$(mktemp -d "$cache/extract.XXXXXX")
	trap 'rm -rf "$x"' EXIT
	if ! dpkg-deb -x "$deb" "$x"; then
		rm -f "$deb"
		die "cannot unpack $deb; removed it, rerun to download it again"
	fi
}

resolve_kernel() {
	apt-cache depends "$kmeta" 2>/dev/null |
		sed -n "s/^ *Depends: linux-image-\\([0-9].*-$kflavour\\)\\(:$debarch\\)\\{0,1\\}\$/\\1/p" | head -n1
}

newest_cached_kernel() {
	local d
	for d in "$cache"/kernel/*-"$kflavour"/.complete; do
		if [[ -e $d ]]; then basename "$(dirname "$d")"; fi
	done | sort -V | tail -n1
}

resolve_apparmor() {
	LC_ALL=C apt-cache policy apparmor 2>/dev/null |
		sed -n 's/^ *Candidate: \([0-9].*\)$/\1/p' | head -n1
}
if [[ $apparmor == 1 ]]; then
	# Each apt-cache call parses all package lists, over a second on hosts
	# without apt's pkgcache.bin (Docker images); run this one alongside
	# the kernel's and collect the answer below.
	exec {aafd}< <(resolve_apparmor || true)
fi

kver=${VMTEST_KERNEL:-}
if [[ -z $kver ]]; then
	kver=$(resolve_kernel || true)
	if [[ -z $kver ]] && can_install; then
		apt_update_once
		kver=$(resolve_kernel || true)
	fi
	if [[ -z $kver ]]; then
		# Offline or without apt lists: a cached kernel is still good.
		kver=$(newest_cached_kernel || true)
		[[ -n $kver ]] || die "cannot resolve $kmeta; run: sudo apt-get update (or, as root, rerun with VMTEST_INSTALL=1; arm and arm64 need dpkg --add-architecture armhf/arm64 first)"
		say "apt cannot resolve $kmeta; using cached kernel $kver"
	fi
fi
[[ $kver =~ ^[0-9][A-Za-z0-9.+-]*$ ]] || die "odd kernel version '$kver'"
kdir=$cache/kernel/$kver

if [[ ! -e $kdir/.complete ]]; then
	pkg=linux-image-$kver
	[[ $arch != arm64 ]] || pkg+=-unsigned
	fetch_deb "$pkg:$debarch" "${pkg}_*_$debarch.deb"
	unpack_deb
	rm -rf "$kdir.new"
	mkdir -p "$kdir.new/modules"
	cp "$x/boot/vmlinuz-$kver" "$kdir.new/vmlinuz" || die "$deb has no boot/vmlinuz-$kver"
	# Debian 12 ships /lib/modules, merged-/usr releases /usr/lib/modules.
	mroot=
	for d in "$x/lib/modules/$kver" "$x/usr/lib/modules/$kver"; do
		[[ -d $d ]] && mroot=$d && break
	done
	[[ -n $mroot ]] || die "$deb has no modules directory for $kver"
	: >"$kdir.new/modules/vmtest.order"
	: >"$kdir.new/notes"
	for m in "${modules[@]}"; do
		# File names use '-' or '_' inconsistently across releases.
		glob=${m//[-_]/[-_]}
		f=$(find "$mroot/kernel" \( -name "$glob.ko" -o -name "$glob.ko.xz" -o -name "$glob.ko.zst" -o -name "$glob.ko.gz" \) -print -quit)
		if [[ -z $f ]]; then
			if grep -q "/$glob\.ko" "$mroot/modules.builtin" 2>/dev/null; then
				echo "$m: built into the kernel" >>"$kdir.new/notes"
				continue
			fi
			die "module $m is neither in $deb nor built in"
		fi
		out=$kdir.new/modules/$m.ko
		# busybox insmod cannot load compressed modules, so decompress here.
		case $f in
		*.ko) cp "$f" "$out" ;;
		*.ko.xz) command -v xz >/dev/null || die "$m is xz-compressed; run: sudo apt-get install xz-utils"
			xz -dc "$f" >"$out"
			echo "$m: decompressed from .ko.xz" >>"$kdir.new/notes" ;;
		*.ko.zst) command -v zstd >/dev/null || die "$m is zstd-compressed; run: sudo apt-get install zstd"
			zstd -qdc "$f" >"$out"
			echo "$m: decompressed from .ko.zst" >>"$kdir.new/notes" ;;
		*.ko.gz) gzip -dc "$f" >"$out"
			echo "$m: decompressed from .ko.gz" >>"$kdir.new/notes" ;;
		esac
		echo "$m" >>"$kdir.new/modules/vmtest.order"
	done
	grep -qx vivid "$kdir.new/modules/vmtest.order" || die "vivid is built in; vmtest needs it as a module to rmmod/insmod it"
	rm -rf "$x"
	trap - EXIT
	rm -rf "$kdir"
	mv "$kdir.new" "$kdir"
	touch "$kdir/.complete"
	say "cached kernel $kver in $kdir"
fi
if [[ -s $kdir/notes ]]; then
	say "module notes: $(paste -sd';' "$kdir/notes")"
fi

# --- busybox for the guest's architecture (cached) ---------------------------

if [[ -z $busybox && $arch == amd64 ]]; then
	busybox=/bin/busybox
elif [[ -z $busybox ]]; then
	# busybox-static is not co-installable across architectures: take the
	# binary out of the foreign package instead of installing it.
	bbdir=$cache/busybox-$debarch
	if [[ ! -x $bbdir/busybox ]]; then
		fetch_deb "busybox-static:$debarch" "busybox-static_*_$debarch.deb"
		unpack_deb
		mkdir -p "$bbdir"
		install -m 0755 "$x/bin/busybox" "$bbdir/busybox.new" || die "$deb has no bin/busybox"
		mv "$bbdir/busybox.new" "$bbdir/busybox"
		rm -rf "$x"
		trap - EXIT
	fi
	busybox=$bbdir/busybox
fi
# The applet list comes from the guest's busybox itself, run on this host
# through qemu-user for a foreign one.
applets=$(${qemu_user:+"$qemu_user"} "$busybox" --list) || die "cannot run $busybox${qemu_user:+ under $qemu_user}"

# --- base initramfs (cached): busybox, modules, /init -----------------------

key=$( {
	echo "$kver"
	sha256sum "$busybox" "$here/guest-init.sh" "$kdir/modules/"*
} | sha256sum | cut -c1-16)
base=$cache/initrd/base-$kver-$key.cpio.gz
if [[ ! -s $base ]]; then
	say "building base initramfs"
	mkdir -p "$cache/initrd"
	s=$(mktemp -d "$cache/initrd/stage.XXXXXX")
	trap 'rm -rf "$s"' EXIT
	mkdir -p "$s"/{bin,sbin,etc,proc,sys,dev,tmp,root,data,vmtest,lib/modules}
	cp "$busybox" "$s/bin/busybox"
	for a in $applets; do
		[[ $a == busybox ]] || ln -s busybox "$s/bin/$a"
	done
	install -m 0755 "$here/guest-init.sh" "$s/init"
	cp "$kdir/modules/"* "$s/lib/modules/"
	# Go's resolver reads /etc/hosts; without it "localhost" would go to DNS.
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$s/etc/hosts"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$s/etc/passwd"
	echo 'root:x:0:' >"$s/etc/group"
	(cd "$s" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -6 >"$base.tmp"
	# The kernel only accepts an uncompressed archive after a compressed one
	# at a 4-byte aligned offset (zero bytes in between are skipped);
	# otherwise it silently drops the per-run overlay.
	truncate -s %512 "$base.tmp"
	rm -f "$cache/initrd/base-$kver-"*.cpio.gz
	mv "$base.tmp" "$base"
	rm -rf "$s"
	trap - EXIT
fi

# --- AppArmor userspace (cached, only with --apparmor) ----------------------

# Debian's kernel has AppArmor built in; what the guest lacks is the parser
# that compiles and loads profiles, and the abstractions that profiles
# include. They come from Debian's apparmor package, as on a real SBC.
# Bump aa_layout when the choice of files below changes, so that an older
# extraction is redone instead of trusted.
aa_layout=1
aa_cpio=
# Directory names are the package versions as apt spells them in .deb file
# names (an epoch's ':' as %3a).
newest_cached_apparmor() {
	local d
	for d in "$cache"/apparmor/*/.complete; do
		if [[ -e $d && $(cat "$d") == "$aa_layout" ]]; then basename "$(dirname "$d")"; fi
	done | sort -V | tail -n1
}
if [[ $apparmor == 1 ]]; then
	aaver=$(cat <&"$aafd")
	exec {aafd}<&-
	if [[ -z $aaver ]] && can_install; then
		apt_update_once
		aaver=$(resolve_apparmor || true)
	fi
	if [[ -n $aaver ]]; then
		[[ $aaver =~ ^[0-9][A-Za-z0-9.+~:-]*$ ]] || die "odd apparmor package version '$aaver'"
		aaname=${aaver//:/%3a}
	else
		aaname=$(newest_cached_apparmor || true)
		[[ -n $aaname ]] || die "cannot resolve the apparmor package; run: sudo apt-get update (or, as root, rerun with VMTEST_INSTALL=1)"
		say "apt cannot resolve apparmor; using cached apparmor $aaname"
	fi
	aadir=$cache/apparmor/$aaname
	if [[ ! -e $aadir/.complete || $(cat "$aadir/.complete") != "$aa_layout" ]]; then
		fetch_deb "apparmor=$aaver" "apparmor_${aaname}_amd64.deb"
		unpack_deb
		rm -rf "$aadir.new"
		r=$aadir.new/root
		mkdir -p "$r/sbin" "$r/usr/sbin" "$r/usr/bin" "$r/etc/apparmor.d"
		# Debian 12 has the parser in /sbin, merged-/usr releases in
		# /usr/sbin. DSF runs /usr/sbin/apparmor_parser; PATH has /sbin.
		p=
		for f in "$x/sbin/apparmor_parser" "$x/usr/sbin/apparmor_parser"; do
			[[ -f $f ]] && p=$f && break
		done
		[[ -n $p ]] || die "$deb has no apparmor_parser"
		install -m 0755 "$p" "$r/sbin/apparmor_parser"
		ln -s ../../sbin/apparmor_parser "$r/usr/sbin/apparmor_parser"
		# Handy for tests, and small: aa-exec -p PROFILE runs a command
		# confined without moving it to the profile's path.
		for f in usr/bin/aa-exec usr/bin/aa-enabled usr/sbin/aa-status; do
			if [[ -f $x/$f ]]; then install -m 0755 "$x/$f" "$r/$f"; fi
		done
		for d in abstractions tunables abi local; do
			if [[ -d $x/etc/apparmor.d/$d ]]; then cp -a "$x/etc/apparmor.d/$d" "$r/etc/apparmor.d/"; fi
		done
		for f in abstractions/base tunables/global; do
			[[ -f $r/etc/apparmor.d/$f ]] || die "$deb has no /etc/apparmor.d/$f"
		done
		if [[ -f $x/etc/apparmor/parser.conf ]]; then
			install -D -m 0644 "$x/etc/apparmor/parser.conf" "$r/etc/apparmor/parser.conf"
		fi
		# Debian's parser.conf pins policy-features to this file, so that
		# policy compiles the same against any kernel.
		if [[ -d $x/usr/share/apparmor-features ]]; then
			mkdir -p "$r/usr/share"
			cp -a "$x/usr/share/apparmor-features" "$r/usr/share/"
		fi
		# The guest has no libc: copy exactly what ldd resolves on this
		# host (Debian too, so the same ABI), and the ELF interpreter, to
		# the paths ldd names. The loader finds them there without an
		# ld.so.cache because they are its built-in default directories.
		for f in "$r"/sbin/* "$r"/usr/bin/* "$r"/usr/sbin/*; do
			[[ -f $f && ! -L $f ]] || continue
			! is_static "$f" || continue
			out=$(LC_ALL=C ldd "$f" 2>&1) || die "ldd ${f#"$r"} failed: $out"
			if [[ $out == *"not found"* ]]; then
				die "${f#"$r"} needs libraries this host lacks: $(grep 'not found' <<<"$out" | awk '{print $1}' | paste -sd' ')"
			fi
			while read -r lib; do
				# install copies the file a symlink points to.
				[[ -e $r$lib ]] || install -D -m 0755 "$lib" "$r$lib"
			done < <(sed -n -e 's/^.* => \(\/[^ ]*\) (0x.*$/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*$/\1/p' <<<"$out")
		done
		rm -rf "$x"
		trap - EXIT
		rm -rf "$aadir"
		mv "$aadir.new" "$aadir"
		echo "$aa_layout" >"$aadir/.complete"
		say "cached AppArmor userspace $aaname in $aadir"
	fi
	# A separate archive, so that runs without --apparmor neither carry
	# nor rebuild it; it goes between the base and the per-run overlay.
	# Uncompressed, like the overlay: with these 3.8 MB the kernel unpacked
	# the whole initramfs in 0.19 s, as fast as without them; gzip'd to
	# 1.5 MB it took 0.25-0.41 s.
	aa_cpio=$aadir/initrd.cpio
	if [[ ! -s $aa_cpio ]]; then
		(cd "$aadir/root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$aa_cpio.tmp"
		# A multiple of 512 like the base, so the overlay after it starts
		# 4-byte aligned.
		truncate -s %512 "$aa_cpio.tmp"
		mv "$aa_cpio.tmp" "$aa_cpio"
	fi
fi
flock -u "$lockfd"

# --- per-run overlay: env, command, binaries, files -------------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/vmtest.XXXXXX")
# shellcheck disable=SC2317 # only called from the EXIT trap
cleanup() {
	if [[ $keep == 1 ]]; then say "kept work directory $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# POSIX single quoting: the guest shell is busybox ash, not bash, so bash's
# printf %q output ($'...') is not safe to hand it.
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

run_id=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
o=$work/overlay
mkdir -p "$o/vmtest" "$o/bin" "$o/data"
{
	echo "VMTEST=1; export VMTEST"
	echo "VMTEST_RUN_ID=$run_id"
	echo "VMTEST_LOAD_VIVID=$load_vivid"
	echo "VMTEST_APPARMOR=$apparmor"
	echo "VMTEST_WORKDIR=/data"
	echo "VIVID_PARAMS=$(shq "$vivid_params"); export VIVID_PARAMS"
	for e in "${envs[@]}"; do
		echo "${e%%=*}=$(shq "${e#*=}"); export ${e%%=*}"
	done
} >"$o/vmtest/env"

for b in "${bins[@]}"; do
	install -m 0755 "$b" "$o/bin/$(basename "$b")"
done
for f in "${files[@]}"; do
	src=${f%%:*}
	dest=/data/$(basename "$src")
	[[ $f != *:* ]] || dest=${f#*:}
	[[ $dest == /* ]] || die "--file destination must be absolute: $f"
	[[ -e $src ]] || die "--file source $src not found"
	mkdir -p "$o$(dirname "$dest")"
	cp -a "$src" "$o$dest"
done

{
	if [[ $have_cmd == 1 ]]; then
		printf 'exec'
		for a in "${cmd[@]}"; do printf ' %s' "$(shq "$a")"; done
		echo
	else
		echo 'rc=0'
		for b in "${bins[@]}"; do
			n=$(shq "/bin/$(basename "$b")")
			echo "echo \"=== vmtest: running \"$n"
			echo "$n; s=\$?; echo \"=== vmtest: \"$n\" exited \$s\"; [ \$rc -ne 0 ] || rc=\$s"
		done
		# shellcheck disable=SC2016 # expands in the guest, not here
		echo 'exit $rc'
	fi
} >"$o/vmtest/cmd"

(cd "$o" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$work/overlay.cpio"
# The kernel unpacks concatenated archives in order, so the per-run files
# land on top of the cached base without rebuilding it. The overlay stays
# uncompressed: gunzip under TCG costs more than copying a few MB.
cat "$base" ${aa_cpio:+"$aa_cpio"} "$work/overlay.cpio" >"$work/initrd"

# --- boot -------------------------------------------------------------------

log=$work/console.log
mkfifo "$work/console"
append="console=$console quiet panic=-1"
# Debian's kernel enables AppArmor by default (CONFIG_LSM lists it); saying
# so on the command line keeps that true even if a later default changes.
[[ $apparmor == 0 ]] || append+=" apparmor=1 security=apparmor"
append+=" ${VMTEST_APPEND:-}"
qemu=("$qemu_bin" "${qemu_machine[@]}" -accel tcg -m "$mem" -smp "$smp"
	-nodefaults -display none -serial stdio -no-reboot
	-kernel "$kdir/vmlinuz" -initrd "$work/initrd" -append "$append")

say "booting $kver on $qemu_bin (timeout ${timeout_s}s)"
start=$(date +%s.%N)
# qemu gets no terminal: stdin /dev/null keeps it from switching a
# developer's tty to raw mode, and -serial stdio then only writes.
timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null >"$work/console" 2>&1 &
qpid=$!
sed -u 's/\r$//' <"$work/console" | tee "$log" &
rpid=$!
# Both run in the background so that this shell sits in "wait", which a
# trapped signal interrupts at once; a foreground pipeline would delay the
# trap until qemu exited. timeout puts qemu in its own process group, so a
# Ctrl-C reaches it only through this trap.
signal=
# shellcheck disable=SC2317 # only called from traps
on_signal() {
	signal=$1
	kill -TERM "$qpid" 2>/dev/null || true
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP
set +e
wait "$qpid"
qstatus=$?
# A trapped signal ends the first wait early; wait again for qemu to go.
while [[ -n $signal ]] && kill -0 "$qpid" 2>/dev/null; do
	wait "$qpid"
	qstatus=$?
done
wait "$rpid"
set -e
trap - INT TERM HUP
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
[[ -z $log_copy ]] || cp "$log" "$log_copy"

# Not anchored at the line start: output without a final newline (printf
# in a shell command) would otherwise swallow the marker. The nonce alone
# keeps it from matching anything but init's line.
line=$(grep -a -o -E "VMTEST-EXIT [0-9]+ $run_id\$" "$log" | tail -n1 || true)
if [[ -n $line ]]; then
	status=${line#VMTEST-EXIT }
	status=${status%% *}
	if [[ $status == 0 ]]; then
		echo "vmtest: PASS (${elapsed}s)"
	else
		echo "vmtest: FAIL (exit status $status, ${elapsed}s)"
	fi
	exit "$status"
fi

reason=
# "unknown" is what the guest says when the overlay with the run id is gone.
if setup=$(grep -a -o -E "VMTEST-SETUP-FAILED ($run_id|unknown) .*" "$log" | tail -n1); then
	reason="guest setup: ${setup#VMTEST-SETUP-FAILED * }"
elif [[ -n $signal ]]; then
	echo "vmtest: FAIL (interrupted by SIG$signal)"
	case $signal in INT) exit 130 ;; HUP) exit 129 ;; *) exit 143 ;; esac
elif [[ $qstatus == 124 || $qstatus == 137 ]]; then
	echo "vmtest: FAIL (timeout after ${timeout_s}s)"
	exit 124
elif panic=$(grep -a -m1 'Kernel panic' "$log"); then
	reason="kernel panic: ${panic#*Kernel panic - }"
elif [[ $qstatus -gt 128 ]]; then
	reason="interrupted (qemu status $qstatus)"
else
	reason="guest reported no exit status (qemu exit $qstatus)"
fi
echo "vmtest: FAIL ($reason, ${elapsed}s)"
exit 125
