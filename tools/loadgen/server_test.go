package main

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// testJPEGs are real JPEGs, so the framing checks see genuine FF D8 ... FF D9
// bodies with arbitrary bytes (including CR, LF and '-') in between.
var testJPEGs = sync.OnceValue(func() [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var out [][]byte
	for k := range 3 {
		img := image.NewRGBA(image.Rect(0, 0, 96, 72))
		for y := range 72 {
			for x := range 96 {
				img.Set(x, y, color.RGBA{uint8(x*2 + k*80), uint8(y * 3), uint8(rng.IntN(256)), 255})
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
			panic(err)
		}
		out = append(out, b.Bytes())
	}
	return out
})

// appendPart appends one part exactly as usbStream writes it: headers, the
// JPEG, then the boundary that introduces the next part.
func appendPart(dst []byte, boundary string, body []byte, ts time.Time) []byte {
	dst = append(dst, "Content-Type: image/jpeg\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\nX-Timestamp: "...)
	us := ts.UnixMicro()
	dst = strconv.AppendInt(dst, us/1e6, 10)
	dst = append(dst, '.')
	frac := strconv.FormatInt(us%1e6+1e6, 10)[1:] // zero-padded to 6 digits
	dst = append(dst, frac...)
	dst = append(dst, "\r\n\r\n"...)
	dst = append(dst, body...)
	return append(dst, "\r\n--"+boundary+"\r\n"...)
}

// testServer serves /stream in usbStream's framing at a fixed rate, and
// /snapshot. Its knobs produce the misbehaviours the tests look for.
type testServer struct {
	URL      string
	fps      float64
	boundary string
	quoted   bool // send boundary="..." in the Content-Type
	repeat   bool // send every frame twice, the second time as a repeat
	// mangle may rewrite part n (0-based) of each connection before it is sent.
	mangle     func(n int, part []byte) []byte
	closeAfter int // close each stream after this many parts; 0: never
	user, pass string

	done  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func newTestServer(t testing.TB, configure func(*testServer)) *testServer {
	t.Helper()
	s := &testServer{fps: 30, boundary: "boundarydonotcross", done: make(chan struct{}), conns: map[net.Conn]bool{}}
	if configure != nil {
		configure(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/stream", s.serveStream)
	mux.HandleFunc("/snapshot", s.serveSnapshot)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	s.URL = "http://" + ln.Addr().String() + "/stream"
	t.Cleanup(func() {
		close(s.done)
		srv.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *testServer) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.user == "" {
		return true
	}
	if u, p, ok := r.BasicAuth(); ok && u == s.user && p == s.pass {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
	http.Error(w, "unauthorized", http.StatusUnauthorized)
	return false
}

func (s *testServer) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	body := testJPEGs()[0]
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func (s *testServer) serveStream(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.mu.Lock()
	s.conns[conn] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		conn.Close()
	}()

	b := s.boundary
	if s.quoted {
		b = strconv.Quote(b)
	}
	head := "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nConnection: close\r\n" +
		"Content-Type: multipart/x-mixed-replace;boundary=" + b + "\r\n\r\n--" + s.boundary + "\r\n"
	if _, err := conn.Write([]byte(head)); err != nil {
		return
	}
	ticker := time.NewTicker(time.Duration(float64(time.Second) / s.fps))
	defer ticker.Stop()
	jpegs := testJPEGs()
	var (
		buf []byte
		ts  time.Time
	)
	// Bounded: at most a minute's worth of parts per connection.
	for n := range int(60 * s.fps) {
		if n > 0 {
			select {
			case <-ticker.C:
			case <-s.done:
				return
			}
		}
		frame := n
		if s.repeat {
			frame = n / 2
		}
		if !s.repeat || n%2 == 0 {
			ts = time.Now()
		}
		buf = appendPart(buf[:0], s.boundary, jpegs[frame%len(jpegs)], ts)
		if s.mangle != nil {
			buf = s.mangle(n, buf)
		}
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(buf); err != nil {
			return
		}
		if s.closeAfter > 0 && n+1 >= s.closeAfter {
			return
		}
	}
}
