// Command aaprobe makes single file-system system calls and prints, for each,
// whether it worked or which errno it got. tools/vmtest/apparmor-selftest.sh
// runs it from a path that an AppArmor profile attaches to, so every line says
// what that profile allows a Go program like usbStream to do, one syscall at
// a time (busybox tools combine several calls and hide which one failed).
//
//	aaprobe OP PATH [OP PATH...]
//
// Each pair prints one line, "OP PATH: ok[ DETAIL]" or "OP PATH: ERRNO" (for
// example EACCES). The exit status is 0 unless the arguments are wrong, so
// the caller decides what is expected.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// _IOR('V', 0, struct v4l2_capability), the struct being 104 bytes.
const vidiocQuerycap = 0x80685600

// v4l2Capability mirrors struct v4l2_capability from linux/videodev2.h.
type v4l2Capability struct {
	Driver       [16]byte
	Card         [32]byte
	BusInfo      [32]byte
	Version      uint32
	Capabilities uint32
	DeviceCaps   uint32
	Reserved     [3]uint32
}

// inotifyMask is what fsnotify asks for on a watched directory.
const inotifyMask = unix.IN_CREATE | unix.IN_MODIFY | unix.IN_CLOSE_WRITE |
	unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_DELETE_SELF |
	unix.IN_MOVE_SELF | unix.IN_ATTRIB

var ops = map[string]func(path string) (string, error){
	// read: open(O_RDONLY) and read; the detail is the first line.
	"read": func(path string) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		return string(line), nil
	},
	// open-rw: open(O_RDWR), as capture code opens a video node.
	"open-rw": func(path string) (string, error) {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return "", err
		}
		return "", unix.Close(fd)
	},
	// querycap: open(O_RDWR) and ioctl(VIDIOC_QUERYCAP); the detail is the
	// card name.
	"querycap": func(path string) (string, error) {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return "", err
		}
		defer unix.Close(fd)
		var c v4l2Capability
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), vidiocQuerycap, uintptr(unsafe.Pointer(&c))); errno != 0 {
			return "", errno
		}
		return string(bytes.TrimRight(c.Card[:], "\x00")), nil
	},
	// stat (follows symlinks) and lstat; the detail is the file type.
	"stat": func(path string) (string, error) {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			return "", err
		}
		return fileType(st.Mode), nil
	},
	"lstat": func(path string) (string, error) {
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return "", err
		}
		return fileType(st.Mode), nil
	},
	"readlink": func(path string) (string, error) {
		return os.Readlink(path)
	},
	// evalsymlinks: filepath.EvalSymlinks, lstat and readlink per component.
	"evalsymlinks": func(path string) (string, error) {
		return filepath.EvalSymlinks(path)
	},
	// readdir: open(O_DIRECTORY) and getdents64, what os.ReadDir does.
	"readdir": func(path string) (string, error) {
		entries, err := os.ReadDir(path)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d entries", len(entries)), nil
	},
	// glob: filepath.Glob, which drops I/O errors, so a directory it may
	// not read gives no matches and no error.
	"glob": func(pattern string) (string, error) {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return "", err
		}
		n := len(m)
		if n > 4 {
			m = append(m[:4], "...")
		}
		return strings.TrimSpace(fmt.Sprintf("%d matches %s", n, strings.Join(m, " "))), nil
	},
	// exec: run PATH with no arguments and wait for it.
	"exec": func(path string) (string, error) {
		return "", exec.Command(path).Run()
	},
	// listen-tcp: bind and listen on ADDR, as the HTTP server does.
	"listen-tcp": func(addr string) (string, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return "", err
		}
		defer l.Close()
		return l.Addr().String(), nil
	},
	// connect-unix: connect to a Unix stream socket, as the DSF client
	// connects to /run/dsf/dcs.sock.
	"connect-unix": func(path string) (string, error) {
		c, err := net.Dial("unix", path)
		if err != nil {
			return "", err
		}
		return "", c.Close()
	},
	// listen-unix: serve a Unix stream socket at PATH for 20 s, accepting
	// and closing connections, so that connect-unix has a peer. It says
	// "aaprobe: listening PATH" on stderr once the socket exists.
	"listen-unix": func(path string) (string, error) {
		l, err := net.Listen("unix", path)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(os.Stderr, "aaprobe: listening %s\n", path)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		time.Sleep(20 * time.Second)
		return "", l.Close()
	},
	// inotify: inotify_init1 and inotify_add_watch, as fsnotify.Add does.
	"inotify": func(path string) (string, error) {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
		if err != nil {
			return "", err
		}
		defer unix.Close(fd)
		wd, err := unix.InotifyAddWatch(fd, path, inotifyMask)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("watch descriptor %d", wd), nil
	},
	// inotify-wait: like inotify, then wait up to 10 s for one event. It
	// says "aaprobe: watching PATH" on stderr once the watch is in place,
	// so that the caller knows when to change the directory.
	"inotify-wait": func(path string) (string, error) {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
		if err != nil {
			return "", err
		}
		defer unix.Close(fd)
		if _, err := unix.InotifyAddWatch(fd, path, inotifyMask); err != nil {
			return "", err
		}
		fmt.Fprintf(os.Stderr, "aaprobe: watching %s\n", path)
		got := make(chan string, 1)
		go func() {
			buf := make([]byte, 4096)
			n, err := unix.Read(fd, buf)
			if err != nil || n < unix.SizeofInotifyEvent {
				got <- ""
				return
			}
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
			name := bytes.TrimRight(buf[unix.SizeofInotifyEvent:unix.SizeofInotifyEvent+int(ev.Len)], "\x00")
			got <- fmt.Sprintf("event mask 0x%x name %s", ev.Mask, name)
		}()
		select {
		case s := <-got:
			if s == "" {
				return "", errors.New("inotify read failed")
			}
			return s, nil
		case <-time.After(10 * time.Second):
			return "", errors.New("no event within 10s")
		}
	},
}

func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFCHR:
		return "char device"
	case unix.S_IFREG:
		return "regular file"
	}
	return fmt.Sprintf("mode 0%o", mode&unix.S_IFMT)
}

// result is "ok[ DETAIL]", the errno's name, or the error text when there
// is no errno.
func result(detail string, err error) string {
	if err == nil {
		if detail == "" {
			return "ok"
		}
		return "ok " + detail
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
	}
	return err.Error()
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 || len(args)%2 != 0 {
		fmt.Fprintln(os.Stderr, "usage: aaprobe OP PATH [OP PATH...]")
		os.Exit(2)
	}
	for i := 0; i < len(args); i += 2 {
		op, path := args[i], args[i+1]
		f, ok := ops[op]
		if !ok {
			fmt.Fprintf(os.Stderr, "aaprobe: unknown op %q\n", op)
			os.Exit(2)
		}
		fmt.Printf("%s %s: %s\n", op, path, result(f(path)))
	}
}
