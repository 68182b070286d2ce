package jsonbatch

import (
	"testing"
)

func TestSpecial8(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			var b [8]byte
			for k := range b {
				b[k] = 'a'
			}
			b[pos] = byte(c)
			x := uint64(0)
			for k := 7; k >= 0; k-- {
				x = x<<8 | uint64(b[k])
			}
			if got, want := special8(x), !strSafe[c]; got != want {
				t.Fatalf("special8 with %#x at %d = %v, want %v", c, pos, got, want)
			}
		}
	}
}

func TestScanExtent(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int // extent, or -1 for more, -2 for too deep
	}{
		{`{}`, 2},
		{`{"a":"}"}x`, 9},
		{`{"a":"\"}"}`, 11},
		{`{"a":"\\"}x`, 10},
		{`{"a":[{}]}`, 10},
		{`"abc"x`, 5},
		{`"a\"`, -1},
		{`"a\`, -1},
		{`123,`, 3},
		{`true}`, 4},
		{`123`, -1},
		{`{"a":{`, -1},
		{`[[[[`, -2},
	} {
		var st extent
		var got int
		switch scanExtent([]byte(tt.in), &st, 3) {
		case extDone:
			got = st.p
		case extMore:
			got = -1
		case extTooDeep:
			got = -2
		}
		if got != tt.want {
			t.Errorf("scanExtent(%q) = %d, want %d", tt.in, got, tt.want)
		}
		// Resumed byte by byte, the same answer.
		st = extent{}
		res := extMore
		for n := 1; n <= len(tt.in) && res == extMore; n++ {
			res = scanExtent([]byte(tt.in[:n]), &st, 3)
		}
		if res == extDone && st.p != tt.want || res != extDone && tt.want >= 0 {
			t.Errorf("scanExtent(%q) resumed byte by byte = %d (p=%d), want %d", tt.in, res, st.p, tt.want)
		}
	}
}
