package placard

import (
	"image"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDrawText(t *testing.T) {
	img := image.NewYCbCr(image.Rect(0, 0, 64, 40), image.YCbCrSubsampleRatio420)
	red := RGB(255, 0, 0)
	const scale = 2
	DrawText(img, 4, 6, scale, "HI", red)
	w, h := TextSize("HI", scale)
	if w != 2*CharWidth*scale || h != CharHeight*scale {
		t.Fatalf("TextSize = %d, %d", w, h)
	}
	inside := image.Rect(4, 6, 4+w, 6+h)
	ink := 0
	for y := 0; y < 40; y++ {
		for x := 0; x < 64; x++ {
			c := img.YCbCrAt(x, y)
			p := image.Pt(x, y)
			if c.Y == 0 {
				continue
			}
			if !p.In(inside) {
				t.Fatalf("ink at %v, outside the text box %v", p, inside)
			}
			if c != red {
				t.Fatalf("ink at %v is %v, want %v", p, c, red)
			}
			ink++
		}
	}
	// "H" in 7x13 has two full-height stems: at least that much ink.
	if ink < 2*9*scale*scale*2 {
		t.Fatalf("only %d ink pixels", ink)
	}
	// The glyph's left stem is its first column, scale pixels wide.
	stem := 0
	for y := inside.Min.Y; y < inside.Max.Y; y++ {
		if img.YCbCrAt(4+scale-1, y).Y != 0 {
			stem++
		}
	}
	if stem < 8*scale {
		t.Fatalf("H has a %d-pixel left stem, want at least %d", stem, 8*scale)
	}
}

func TestDrawTextClips(t *testing.T) {
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		// An odd size and origin exercise the chroma rounding at every edge.
		img := image.NewYCbCr(image.Rect(3, 5, 24, 18), ratio)
		for _, p := range []image.Point{{-30, -30}, {0, 0}, {20, 15}, {3, 5}, {23, 17}, {-5, 10}, {100, 100}} {
			DrawText(img, p.X, p.Y, 3, "W#@\x00ü", RGB(0, 255, 0))
		}
		FillRect(img, image.Rect(-10, -10, 100, 100), RGB(0, 0, 255))
		want := RGB(0, 0, 255)
		for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
			for x := img.Rect.Min.X; x < img.Rect.Max.X; x++ {
				if c := img.YCbCrAt(x, y); c != want {
					t.Fatalf("%v: pixel (%d,%d) is %v after a full fill, want %v", ratio, x, y, c, want)
				}
			}
		}
	}
}

func TestGlyphsDecoded(t *testing.T) {
	if g := glyphFor(' '); *g != (glyph{}) {
		t.Fatal("space has ink")
	}
	for r := rune('!'); r < 0x7F; r++ {
		if *glyphFor(r) == (glyph{}) {
			t.Fatalf("glyph %q is empty", r)
		}
	}
	if glyphFor('é') != glyphFor(utf8.RuneError) || *glyphFor('é') == (glyph{}) {
		t.Fatal("runes outside ASCII are not drawn as the replacement glyph")
	}
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		s        string
		width    int
		maxLines int
		want     []string
	}{
		{"", 10, 3, nil},
		{"short", 10, 3, []string{"short"}},
		{"one two three four", 9, 5, []string{"one two", "three", "four"}},
		{"abcdefghijkl", 5, 5, []string{"abcde", "fghij", "kl"}},
		{"ab cdefghijkl", 5, 5, []string{"ab", "cdefg", "hijkl"}},
		{"one two three four five six", 9, 2, []string{"one two", "three..."}},
		{"aaaaaaaaa bbbbbbbbb", 9, 1, []string{"aaaaaa..."}},
	} {
		got := wrap(tc.s, tc.width, tc.maxLines)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d, %d) = %q, want %q", tc.s, tc.width, tc.maxLines, got, tc.want)
		}
		for _, l := range got {
			if n := utf8.RuneCountInString(l); n > tc.width {
				t.Errorf("wrap(%q): line %q is %d runes, wider than %d", tc.s, l, n, tc.width)
			}
		}
	}
}

func TestSanitize(t *testing.T) {
	got := sanitize("  a\n\tb\x00\x1bc  ")
	if got != "a b c" {
		t.Fatalf("sanitize = %q", got)
	}
	long := sanitize(strings.Repeat("x", 10*maxReasonRunes))
	if n := utf8.RuneCountInString(long); n > maxReasonRunes+3 {
		t.Fatalf("sanitize kept %d runes of a huge message", n)
	}
}
