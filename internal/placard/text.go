// Package placard draws text on pictures and renders the placeholder
// frame served while the camera is away. It draws straight into YCbCr
// planes, the layout the JPEG encoder takes, so a generated picture (the
// test pattern, a placeholder) needs no colour conversion per pixel.
package placard

import (
	"image"
	"image/color"
	"sync"
	"unicode/utf8"

	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Size of one character cell of the built-in font (basicfont 7x13) at scale
// 1. Text is monospaced, so a string of n characters at scale s is
// n*CharWidth*s by CharHeight*s pixels.
const (
	CharWidth  = 7
	CharHeight = 13
)

// glyph is one character of the font as a bitmap: bit c of row r is set when
// pixel (c, r) is ink. The glyphs are 6 pixels wide inside the 7-pixel cell.
type glyph [CharHeight]uint8

// glyphs holds printable ASCII (index r-0x20) and, last, U+FFFD for runes the
// font lacks. It is decoded from the font's mask once so that drawing is a
// table lookup instead of image.Image calls per pixel.
var glyphs = sync.OnceValue(func() []glyph {
	face := basicfont.Face7x13
	runes := make([]rune, 0, 96)
	for r := rune(0x20); r < 0x7F; r++ {
		runes = append(runes, r)
	}
	runes = append(runes, utf8.RuneError)
	table := make([]glyph, len(runes))
	// Baseline at the ascent puts the cell's top at y=0.
	dot := fixed.P(0, face.Ascent)
	for i, r := range runes {
		dr, mask, mp, _, _ := face.Glyph(dot, r)
		for y := 0; y < dr.Dy() && y < CharHeight; y++ {
			for x := 0; x < dr.Dx() && x < 8; x++ {
				if _, _, _, a := mask.At(mp.X+x, mp.Y+y).RGBA(); a >= 0x8000 {
					table[i][dr.Min.Y+y] |= 1 << uint(dr.Min.X+x)
				}
			}
		}
	}
	return table
})

func glyphFor(r rune) *glyph {
	t := glyphs()
	if r >= 0x20 && r < 0x7F {
		return &t[r-0x20]
	}
	return &t[len(t)-1]
}

// TextSize returns the size in pixels of s drawn at the given scale.
func TextSize(s string, scale int) (width, height int) {
	if scale < 1 {
		scale = 1
	}
	return utf8.RuneCountInString(s) * CharWidth * scale, CharHeight * scale
}

// DrawText draws s in colour c with its top-left corner at (x, y), each font
// pixel becoming a scale×scale block. It writes luma and chroma directly, so
// the text keeps its colour on any background. s is one line: runes the
// font lacks, including control characters, are drawn as a replacement
// glyph. Anything outside img is clipped.
func DrawText(img *image.YCbCr, x, y, scale int, s string, c color.YCbCr) {
	if scale < 1 {
		scale = 1
	}
	adv := CharWidth * scale
	clip := img.Rect
	for _, r := range s {
		cell := image.Rect(x, y, x+adv, y+CharHeight*scale)
		if cell.Min.X >= clip.Max.X {
			return
		}
		if cell.Overlaps(clip) {
			drawGlyph(img, x, y, scale, glyphFor(r), c)
		}
		x += adv
	}
}

func drawGlyph(img *image.YCbCr, x, y, scale int, g *glyph, c color.YCbCr) {
	for row, bits := range g {
		// Runs of ink in a row become one rectangle, which keeps the chroma
		// writes per glyph low at large scales.
		for col := 0; bits != 0 && col < 8; {
			if bits&(1<<uint(col)) == 0 {
				col++
				continue
			}
			start := col
			for col < 8 && bits&(1<<uint(col)) != 0 {
				bits &^= 1 << uint(col)
				col++
			}
			y0 := y + row*scale
			FillRect(img, image.Rect(x+start*scale, y0, x+col*scale, y0+scale), c)
		}
	}
}

// RGB is the YCbCr colour of a full-range RGB one, as JFIF expects.
func RGB(r, g, b uint8) color.YCbCr {
	y, cb, cr := color.RGBToYCbCr(r, g, b)
	return color.YCbCr{Y: y, Cb: cb, Cr: cr}
}

// FillRect paints r (clipped to img) in colour c, setting luma for every
// pixel and chroma for every chroma sample r touches. With subsampled chroma
// a rectangle that starts or ends on an odd pixel therefore tints its
// neighbour's colour, as any 4:2:0 drawing does.
func FillRect(img *image.YCbCr, r image.Rectangle, c color.YCbCr) {
	r = r.Intersect(img.Rect)
	if r.Empty() {
		return
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		i := img.YOffset(r.Min.X, y)
		fill(img.Y[i:i+r.Dx()], c.Y)
	}
	hs, vs := subsampling(img.SubsampleRatio)
	// Chroma sample (cx, cy) covers luma pixels [cx*hs, cx*hs+hs) × [cy*vs,
	// cy*vs+vs), the same mapping as image.YCbCr.COffset.
	cx0, cx1 := r.Min.X/hs, (r.Max.X-1)/hs+1
	cy0, cy1 := r.Min.Y/vs, (r.Max.Y-1)/vs+1
	for cy := cy0; cy < cy1; cy++ {
		i := (cy-img.Rect.Min.Y/vs)*img.CStride + (cx0 - img.Rect.Min.X/hs)
		fill(img.Cb[i:i+cx1-cx0], c.Cb)
		fill(img.Cr[i:i+cx1-cx0], c.Cr)
	}
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// subsampling returns how many luma pixels share one chroma sample,
// horizontally and vertically.
func subsampling(r image.YCbCrSubsampleRatio) (h, v int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	default:
		return 1, 1
	}
}
