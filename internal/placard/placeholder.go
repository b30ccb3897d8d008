package placard

import (
	"fmt"
	"image"
	"image/color"
	"strings"
	"time"
	"unicode"

	"usbstream/internal/jpeg"
)

// Placeholder limits. maxPlaceholderSide keeps a bogus size from a broken
// camera from allocating gigabytes; 16384 is above any UVC camera.
const (
	maxPlaceholderSide = 16384
	maxReasonRunes     = 2000
	maxReasonLines     = 8
	placeholderQuality = 75
	defaultTitle       = "CAMERA OFFLINE"
)

var (
	placeholderBackground = RGB(24, 24, 24)
	placeholderTitle      = RGB(255, 255, 255)
	placeholderClock      = RGB(200, 200, 200)
	placeholderReason     = RGB(255, 196, 96)
)

// Placeholder renders the frame served while the source is down: title
// ("CAMERA OFFLINE" when empty) in large letters, the wall-clock time, and
// the reason wrapped over several lines, centred on a dark background. The
// letters scale with the height so the text is readable from 320x240 to
// 3840x2160. It returns JPEG bytes.
func Placeholder(width, height int, title, reason string, now time.Time) ([]byte, error) {
	if width < 1 || height < 1 || width > maxPlaceholderSide || height > maxPlaceholderSide {
		return nil, fmt.Errorf("placeholder size %dx%d is out of range 1..%d", width, height, maxPlaceholderSide)
	}
	img := image.NewYCbCr(image.Rect(0, 0, width, height), image.YCbCrSubsampleRatio420)
	FillRect(img, img.Rect, placeholderBackground)

	// One font pixel per 240 lines of image; the title twice that.
	scale := max(1, height/240)
	margin := width / 20
	avail := max(CharWidth, width-2*margin)

	title = sanitize(title)
	if title == "" {
		title = defaultTitle
	}
	titleScale := fitScale(len([]rune(title)), 2*scale, avail)
	title = ellipsize(title, avail/(CharWidth*titleScale))
	clock := now.Format("2006-01-02 15:04:05")
	clockScale := fitScale(len(clock), scale, avail)

	type line struct {
		text  string
		scale int
		c     color.YCbCr
	}
	lines := []line{{title, titleScale, placeholderTitle}, {clock, clockScale, placeholderClock}}
	// The reason gets whatever vertical space is left, up to maxReasonLines.
	used := (CharHeight+6)*titleScale + (CharHeight+4)*clockScale
	lineH := (CharHeight + 3) * scale
	room := min(maxReasonLines, (height-used-2*(height/20))/lineH)
	for _, l := range wrap(sanitize(reason), avail/(CharWidth*scale), max(1, room)) {
		lines = append(lines, line{l, scale, placeholderReason})
	}

	total := 0
	for i, l := range lines {
		total += CharHeight * l.scale
		if i < len(lines)-1 {
			total += lineGap(i, l.scale)
		}
	}
	y := (height - total) / 2
	for i, l := range lines {
		w, h := TextSize(l.text, l.scale)
		DrawText(img, (width-w)/2, y, l.scale, l.text, l.c)
		y += h + lineGap(i, l.scale)
	}
	return jpeg.Encode(img, placeholderQuality)
}

// lineGap is the space below line i: more under the title and the clock so
// they read as separate blocks from the reason.
func lineGap(i, scale int) int {
	switch i {
	case 0:
		return 6 * scale
	case 1:
		return 4 * scale
	default:
		return 3 * scale
	}
}

// fitScale returns the largest scale up to want at which n characters fit in
// avail pixels, but at least 1.
func fitScale(n, want, avail int) int {
	if n == 0 {
		return max(1, want)
	}
	return max(1, min(want, avail/(n*CharWidth)))
}

// sanitize makes s a single line the font can draw: control characters and
// newlines become spaces, runs of spaces collapse, and a huge message is cut
// before it costs time to wrap.
func sanitize(s string) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range strings.TrimSpace(s) {
		if n >= maxReasonRunes {
			b.WriteString("...")
			break
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// ellipsize shortens s to at most n runes, marking the cut with "...".
func ellipsize(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 3 {
		return string(r[:max(0, n)])
	}
	return string(r[:n-3]) + "..."
}

// wrap breaks s into at most maxLines lines of at most width runes, at spaces
// where it can and inside words longer than a line. When s does not fit, the
// last line ends in "...".
func wrap(s string, width, maxLines int) []string {
	if s == "" || width < 1 || maxLines < 1 {
		return nil
	}
	var lines []string
	var cur []rune
	flush := func() { lines = append(lines, string(cur)); cur = cur[:0] }
	for _, word := range strings.Fields(s) {
		w := []rune(word)
		if len(cur) > 0 && len(cur)+1+len(w) > width {
			flush()
		}
		if len(cur) > 0 {
			cur = append(cur, ' ')
		}
		for len(cur)+len(w) > width {
			k := width - len(cur)
			cur = append(cur, w[:k]...)
			w = w[k:]
			flush()
		}
		cur = append(cur, w...)
	}
	if len(cur) > 0 {
		flush()
	}
	if len(lines) > maxLines {
		lines = lines[:maxLines]
		last := []rune(lines[maxLines-1])
		if len(last)+3 > width {
			last = last[:max(0, width-3)]
		}
		lines[maxLines-1] = string(last) + "..."
	}
	return lines
}
