package testpattern

import (
	"fmt"
	"image"
	"image/color"
	"strconv"
	"time"

	"usbstream/internal/placard"
)

// SMPTE-like 75% colour bars (full-range RGB, as JFIF expects).
var (
	bars = []color.YCbCr{
		placard.RGB(191, 191, 191), placard.RGB(191, 191, 0), placard.RGB(0, 191, 191), placard.RGB(0, 191, 0),
		placard.RGB(191, 0, 191), placard.RGB(191, 0, 0), placard.RGB(0, 0, 191),
	}
	castellations = []color.YCbCr{
		placard.RGB(0, 0, 191), placard.RGB(20, 20, 20), placard.RGB(191, 0, 191), placard.RGB(20, 20, 20),
		placard.RGB(0, 191, 191), placard.RGB(20, 20, 20), placard.RGB(191, 191, 191),
	}
	minusI     = placard.RGB(0, 33, 76)
	plusQ      = placard.RGB(50, 0, 106)
	white      = placard.RGB(255, 255, 255)
	black      = placard.RGB(0, 0, 0)
	barBlack   = placard.RGB(20, 20, 20)
	plugeDark  = placard.RGB(10, 10, 10)
	plugeLight = placard.RGB(30, 30, 30)
	yellow     = placard.RGB(255, 235, 60)
	grey       = placard.RGB(190, 190, 190)
)

// Text lines in the panel; the widths the panel is sized for are fixed so
// that it does not change from frame to frame.
const (
	counterFormat = "FRAME %08d"
	counterSample = "FRAME 00000000"
	clockFormat   = "15:04:05.000"
	dateFormat    = "2006-01-02"
)

// renderer draws frames of one size. The static part (bars and the text
// panel) is drawn once into bg; each frame copies it and adds what moves,
// which keeps rendering cheap next to encoding.
type renderer struct {
	w, h int
	bg   *image.YCbCr
	img  *image.YCbCr

	// The box sweeps band from left to right, one step per frame.
	band            image.Rectangle
	boxW, step, pos int

	big, small int    // text scales
	lineY      [3]int // top of each text line
	sizeText   string // "1280x720  30 fps"
}

func newRenderer(w, h int, fps float64) *renderer {
	r := &renderer{
		w: w, h: h,
		bg:       image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420),
		img:      image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420),
		sizeText: fmt.Sprintf("%dx%d  %s fps", w, h, strconv.FormatFloat(fps, 'f', -1, 64)),
	}
	barsBottom, castBottom := h*2/3, h*3/4
	col := func(i, n int) int { return i * w / n }

	for i, c := range bars {
		placard.FillRect(r.bg, image.Rect(col(i, 7), 0, col(i+1, 7), barsBottom), c)
	}
	for i, c := range castellations {
		placard.FillRect(r.bg, image.Rect(col(i, 7), barsBottom, col(i+1, 7), castBottom), c)
	}
	// Bottom row: -I, white, +Q and black over the first five bar widths,
	// then the PLUGE steps and black.
	for i, c := range []color.YCbCr{minusI, white, plusQ, barBlack} {
		x1 := col(5*(i+1), 28)
		if i == 3 {
			x1 = col(5, 7)
		}
		placard.FillRect(r.bg, image.Rect(col(5*i, 28), castBottom, x1, h), c)
	}
	for i, c := range []color.YCbCr{plugeDark, barBlack, plugeLight} {
		placard.FillRect(r.bg, image.Rect(col(15+i, 21), castBottom, col(16+i, 21), h), c)
	}
	placard.FillRect(r.bg, image.Rect(col(6, 7), castBottom, w, h), barBlack)

	r.band = image.Rect(0, barsBottom, w, castBottom)
	r.boxW = max(2, w/24&^1)
	r.step = max(2, w/160&^1)
	r.pos = max(1, (w-r.boxW)/r.step+1)

	r.layoutText(barsBottom)
	return r
}

// layoutText picks the largest text that fits the bars area and draws the
// dark panel behind it into the background.
func (r *renderer) layoutText(area int) {
	infoChars := len(dateFormat) + 2 + len(r.sizeText)
	fits := func(big int) bool {
		small := max(1, big/2)
		wide := max(len(counterSample)*big, infoChars*small) * placard.CharWidth
		return wide <= r.w*8/10 && r.blockHeight(big, small)+2*big*3 <= area*9/10
	}
	big := 1
	for big < 64 && fits(big+1) {
		big++
	}
	r.big, r.small = big, max(1, big/2)
	// Even at scale 1 a long info line may be too wide for a tiny image;
	// DrawText clips it.

	pad := 3 * r.big
	blockH := r.blockHeight(r.big, r.small)
	top := max(0, (area-blockH)/2)
	r.lineY[0] = top
	r.lineY[1] = r.lineY[0] + placard.CharHeight*r.big + r.big*2
	r.lineY[2] = r.lineY[1] + placard.CharHeight*r.big + r.big*3

	panelW := max(len(counterSample)*r.big, infoChars*r.small)*placard.CharWidth + 2*pad
	panelX := (r.w - panelW) / 2
	placard.FillRect(r.bg, image.Rect(panelX, top-pad, panelX+panelW, top+blockH+pad), black)
}

func (r *renderer) blockHeight(big, small int) int {
	return 2*placard.CharHeight*big + big*2 + big*3 + placard.CharHeight*small
}

// boxX is where the moving box starts in frame n.
func (r *renderer) boxX(n uint64) int {
	return int(n%uint64(r.pos)) * r.step
}

// render draws frame n, stamped with now, and returns the reused image: it
// is valid until the next call.
func (r *renderer) render(n uint64, now time.Time) *image.YCbCr {
	copy(r.img.Y, r.bg.Y)
	copy(r.img.Cb, r.bg.Cb)
	copy(r.img.Cr, r.bg.Cr)

	// A white box with a black rim stands out on every castellation colour.
	x := r.boxX(n)
	box := image.Rect(x, r.band.Min.Y, x+r.boxW, r.band.Max.Y)
	rim := max(1, r.boxW/8)
	placard.FillRect(r.img, box, black)
	placard.FillRect(r.img, box.Inset(rim), white)

	r.centred(r.lineY[0], r.big, fmt.Sprintf(counterFormat, n), yellow)
	r.centred(r.lineY[1], r.big, now.Format(clockFormat), white)
	r.centred(r.lineY[2], r.small, now.Format(dateFormat)+"  "+r.sizeText, grey)
	return r.img
}

func (r *renderer) centred(y, scale int, s string, c color.YCbCr) {
	w, _ := placard.TextSize(s, scale)
	placard.DrawText(r.img, (r.w-w)/2, y, scale, s, c)
}
