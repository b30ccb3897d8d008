package dsftest

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// How DWS turns a SendHttpResponse into the HTTP response.

var responseTypes = enumType{
	dotnet:  "DuetAPI.Commands.HttpResponseType",
	names:   []string{"StatusCode", "PlainText", "JSON", "File", "URI"},
	strings: true,
}

const (
	respStatusCode = iota
	respPlainText
	respJSON
	respFile
	respURI
)

type httpResponse struct {
	status   int
	response *string
	typ      int
}

// parseHTTPResponse deserialises SendHttpResponse with the profile's
// property matching: 3.6 reads exactly statusCode/response/responseType.
func (t *Twin) parseHTTPResponse(raw []byte) (httpResponse, *dnError) {
	var h httpResponse
	if e := syntaxCheck(raw, true); e != nil {
		return h, e
	}
	o, err := parseObject(raw, t.opt.Profile == Profile35)
	if err != nil {
		return h, readerError(raw, err, true)
	}
	if h.status, err = o.integer("statusCode", 0); err != nil {
		return h, asDN(err)
	}
	if h.response, err = o.str("response", ""); err != nil {
		return h, asDN(err)
	}
	if h.typ, _, err = o.enum("responseType", responseTypes, 0); err != nil {
		return h, asDN(err)
	}
	return h, nil
}

// respond maps SendHttpResponse onto the HTTP response.
func (t *Twin) respond(w http.ResponseWriter, r *http.Request, h httpResponse, body string) {
	if h.status < 200 || h.status > 999 {
		// Kestrel writes whatever number it is given into the status line
		// (a missed statusCode is 0); Go's server cannot, so write it raw.
		rawStatus(w, h.status)
		return
	}
	switch h.typ {
	case respFile:
		if h.response == nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		f, err := os.Open(*h.response)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(h.status)
		// Flushing before the body makes the response chunked with no
		// Content-Length, as DWS's stream copy is.
		flush(w)
		copyFlushing(w, f)
		return
	case respURI:
		if h.response == nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		t.proxy(w, r, *h.response, body)
		return
	}
	if h.typ != respStatusCode && h.response == nil {
		w.WriteHeader(http.StatusInternalServerError) // Encoding.GetBytes(null)
		return
	}
	switch h.typ {
	case respPlainText:
		w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	case respJSON:
		w.Header().Set("Content-Type", "application/json")
	default:
		w.Header()["Content-Type"] = nil // no type, and no sniffing either
	}
	w.WriteHeader(h.status)
	if h.typ == respStatusCode {
		return
	}
	io.WriteString(w, *h.response)
}

func rawStatus(w http.ResponseWriter, status int) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	c, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	buf.WriteString("HTTP/1.1 " + itoa(status) + " \r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	buf.Flush()
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// copyFlushing copies src to the response and flushes every chunk. Write
// errors are ignored and reading goes on: Kestrel silently discards writes
// after the browser has gone, and DWS keeps copying until the source ends.
func copyFlushing(w http.ResponseWriter, src io.Reader) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr == nil {
				flush(w)
			}
		}
		if err != nil {
			return
		}
	}
}

// proxy is the "uri" response type: a new HttpClient per request, the same
// method, a text/plain body holding the request body, Host set to the bare
// target host, none of the original headers, and a copy of the upstream
// response that only the upstream (or closing the twin) ends.
func (t *Twin) proxy(w http.ResponseWriter, r *http.Request, target, body string) {
	u, err := parseAbsURL(target)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	// Until the headers arrive, the browser going away or HttpClient's
	// 100 s timeout cancels the request; after that nothing does.
	var headersIn atomic.Bool
	abort := func() {
		if !headersIn.Load() {
			cancel()
		}
	}
	stop := context.AfterFunc(r.Context(), abort)
	timer := time.AfterFunc(100*time.Second, abort)
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), strings.NewReader(body))
	if err != nil {
		stop()
		timer.Stop()
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	req.Host = u.Hostname()
	if strings.Contains(req.Host, ":") {
		req.Host = "[" + req.Host + "]"
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", "") // HttpClient sends none
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	headersIn.Store(true)
	stop()
	timer.Stop()
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.Header().Del("Transfer-Encoding")
	w.WriteHeader(resp.StatusCode)
	flush(w)
	copyFlushing(w, resp.Body)
}
