package batch

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// This file tests the delimiter scanner's pure functions, one table each.
// Rows are named after the quirk of the README's quirks table they cover
// ("quirk 4 ..."), or after the scanner rule they check.

// levelsOf returns the open levels for boundaries, outermost first.
func levelsOf(boundaries ...string) []level {
	ls := make([]level, len(boundaries))
	for i, b := range boundaries {
		ls[i] = level{dash: []byte("--" + b), index: i - 1}
	}
	return ls
}

var outcomeNames = map[int]string{
	candNo: "no", candYes: "yes", candUndecided: "undecided", candTooLong: "too long",
}

// tail is matchDelimiter's answer with exported fields, for cmp.
type tail struct {
	Outcome string
	Close   bool
	Pad, N  int
	BareLF  bool
}

func TestMatchDelimiter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after string
		eof   bool
		want  tail
	}{
		{"CRLF", "\r\nContent-Type", false, tail{Outcome: "yes", N: 2}},
		{"quirk 4 bare LF", "\nContent-Type", false, tail{Outcome: "yes", N: 1, BareLF: true}},
		{"quirk 1 close delimiter then CRLF", "--\r\n", false, tail{Outcome: "yes", Close: true, Pad: 2, N: 4}},
		{"quirk 1 close delimiter at the end of input", "--", true, tail{Outcome: "yes", Close: true, Pad: 2, N: 2}},
		{"quirk 1 close delimiter then an epilogue", "--\r\nepilogue", false, tail{Outcome: "yes", Close: true, Pad: 2, N: 4}},
		{"quirk 1 delimiter at the end of input", "", true, tail{Outcome: "yes"}},
		{"quirk 5 transport padding", " \t \r\n", false, tail{Outcome: "yes", Pad: 3, N: 5}},
		{"quirk 5 Outlook's trailing space", " \n", false, tail{Outcome: "yes", Pad: 1, N: 2, BareLF: true}},
		{"quirk 5 padding after a close delimiter", "-- \t", true, tail{Outcome: "yes", Close: true, Pad: 4, N: 4}},
		{"quirk 10 near-delimiter --batch_X-not", "-not\r\n", false, tail{Outcome: "no"}},
		{"quirk 14 longer boundary --batch_Xyz", "yz\r\n", false, tail{Outcome: "no"}},
		{"quirk 14 text after padding", " x\r\n", false, tail{Outcome: "no", Pad: 1}},
		{"quirk 14 text after a close delimiter", "--x", false, tail{Outcome: "no", Close: true, Pad: 2}},
		{"three dashes", "---\r\n", false, tail{Outcome: "no", Close: true, Pad: 2}},
		{"lone CR is no line break", "\rx", false, tail{Outcome: "no"}},
		{"lone CR at the end of input", "\r", true, tail{Outcome: "no"}},
		{"need more: nothing yet", "", false, tail{Outcome: "undecided"}},
		{"need more: a lone dash may become --", "-", false, tail{Outcome: "undecided"}},
		{"need more: padding", "  ", false, tail{Outcome: "undecided", Pad: 2}},
		{"need more: CR may become CRLF", " \r", false, tail{Outcome: "undecided", Pad: 1}},
		{"need more: close delimiter may get padding", "--", false, tail{Outcome: "undecided", Close: true, Pad: 2}},
		{"a lone dash at the end of input", "-", true, tail{Outcome: "no"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, outcome := matchDelimiter([]byte(tc.after), tc.eof)
			got := tail{outcomeNames[outcome], r.close, r.pad, r.n, r.bareLF}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("matchDelimiter(%q, eof=%v) mismatch (-want +got):\n%s", tc.after, tc.eof, diff)
			}
		})
	}
}

func TestDelimiterLine(t *testing.T) {
	type result struct {
		Level     int
		Close, OK bool
	}
	for _, tc := range []struct {
		name   string
		line   string
		levels []string
		want   result
	}{
		{"open delimiter", "--b", []string{"b"}, result{0, false, true}},
		{"quirk 1 close delimiter", "--b--", []string{"b"}, result{0, true, true}},
		{"quirk 5 transport padding", "--b \t", []string{"b"}, result{0, false, true}},
		{"quirk 5 padding after a close delimiter", "--b-- ", []string{"b"}, result{0, true, true}},
		{"quirk 10 near-delimiter line", "--b-not", []string{"b"}, result{}},
		{"quirk 14 longer boundary", "--bc", []string{"b"}, result{}},
		{"quirk 14 not at the line start", " --b", []string{"b"}, result{}},
		{"quirk 14 inner boundary prefix of the outer", "--batch_1", []string{"batch_1", "batch"}, result{0, false, true}},
		{"quirk 14 outer boundary prefix of the inner", "--batch_1--", []string{"batch", "batch_1"}, result{1, true, true}},
		{"quirk 15 parent delimiter inside a changeset", "--b", []string{"b", "cs"}, result{0, false, true}},
		{"changeset delimiter", "--cs--", []string{"b", "cs"}, result{1, true, true}},
		{"CR left on the line is no padding", "--b\r", []string{"b"}, result{}},
		{"too short", "--", []string{"b"}, result{}},
		{"other boundary", "--x", []string{"b"}, result{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			li, cl, ok := delimiterLine([]byte(tc.line), levelsOf(tc.levels...))
			if got := (result{li, cl, ok}); got != tc.want {
				t.Errorf("delimiterLine(%q, %q) = %+v, want %+v", tc.line, tc.levels, got, tc.want)
			}
		})
	}
}

// scan is scanDelimiter's answer with exported fields, for cmp.
type scan struct {
	N      int
	OK     bool
	Found  bool
	Level  int
	Close  bool
	Line   int
	Dash   int
	BareLF bool
}

func TestScanDelimiter(t *testing.T) {
	long := strings.Repeat("0123456789", 7) // 70 bytes: the needle is cut to maxNeedle
	for _, tc := range []struct {
		name    string
		buf     string
		levels  []string
		atStart bool
		eof     bool
		maxLine int // 0: 1000
		want    scan
	}{
		{"CRLF before the delimiter", "body\r\n--b\r\nnext", []string{"b"}, false, false, 0,
			scan{N: 4, OK: true, Found: true, Line: 7, Dash: 2}},
		{"quirk 4 bare LF before the delimiter", "body\n--b\r\nnext", []string{"b"}, false, false, 0,
			scan{N: 4, OK: true, Found: true, Line: 6, Dash: 1, BareLF: true}},
		{"quirk 4 bare LF after the delimiter", "body\r\n--b\nnext", []string{"b"}, false, false, 0,
			scan{N: 4, OK: true, Found: true, Line: 6, Dash: 2, BareLF: true}},
		{"quirk 4 bare LF around the delimiter", "body\n--b\nnext", []string{"b"}, false, false, 0,
			scan{N: 4, OK: true, Found: true, Line: 5, Dash: 1, BareLF: true}},
		{"quirk 4 bare LF around the delimiter, the LF first in the buffer", "\n--b\nnext", []string{"b"}, false, false, 0,
			scan{N: 0, OK: true, Found: true, Line: 5, Dash: 1, BareLF: true}},
		{"quirk 4 bare LF, then padding", "x\n--b \nnext", []string{"b"}, false, false, 0,
			scan{N: 1, OK: true, Found: true, Line: 6, Dash: 1, BareLF: true}},
		{"quirk 4 bare LF, a close delimiter", "x\n--b--\n", []string{"b"}, false, false, 0,
			scan{N: 1, OK: true, Found: true, Close: true, Line: 7, Dash: 1, BareLF: true}},
		{"quirk 1 close delimiter at the end of input", "x\r\n--b--", []string{"b"}, false, true, 0,
			scan{N: 1, OK: true, Found: true, Close: true, Line: 7, Dash: 2}},
		{"quirk 1 close delimiter, more input may follow", "x\r\n--b--", []string{"b"}, false, false, 0,
			scan{N: 1, OK: true}},
		{"quirk 5 transport padding", "x\r\n--b \t \r\n", []string{"b"}, false, false, 0,
			scan{N: 1, OK: true, Found: true, Line: 10, Dash: 2}},
		{"quirk 5 delimiter at the start of a region", "--b\r\n", []string{"b"}, true, false, 0,
			scan{N: 0, OK: true, Found: true, Line: 5}},
		{"delimiter at buffer start but not at a line start", "--b\r\nx", []string{"b"}, false, false, 0,
			scan{N: 6, OK: true}},
		{"quirk 10 near-delimiter line first", "x\r\n--b-not\r\n--b\r\n", []string{"b"}, false, false, 0,
			scan{N: 10, OK: true, Found: true, Line: 7, Dash: 2}},
		{"quirk 12 line endings per line, innermost level", "x\n--cs\r\n", []string{"b", "cs"}, false, false, 0,
			scan{N: 1, OK: true, Found: true, Level: 1, Line: 7, Dash: 1, BareLF: true}},
		{"quirk 14 mid-line delimiter", "a --b\r\nz", []string{"b"}, false, true, 0,
			scan{N: 8, OK: true}},
		{"quirk 14 longer boundary, line break held back", "x\r\n--bc\r\n", []string{"b"}, false, false, 0,
			scan{N: 7, OK: true}},
		{"quirk 14 inner boundary prefix of the outer", "x\r\n--batch_1\r\n", []string{"batch_1", "batch"}, false, false, 0,
			scan{N: 1, OK: true, Found: true, Level: 0, Line: 13, Dash: 2}},
		{"quirk 15 parent delimiter inside a changeset", "x\r\n--b\r\n", []string{"b", "cs"}, false, false, 0,
			scan{N: 1, OK: true, Found: true, Level: 0, Line: 7, Dash: 2}},
		{"the earliest delimiter of any level", "x\r\n--cs\r\ny\r\n--b\r\n", []string{"b", "cs"}, false, false, 0,
			scan{N: 1, OK: true, Found: true, Level: 1, Line: 8, Dash: 2}},
		{"quirk 9 boundary longer than a needle", "x\r\n--" + long + "\r\n", []string{long}, false, false, 0,
			scan{N: 1, OK: true, Found: true, Line: 76, Dash: 2}},
		{"quirk 9 long boundary differing past the needle", "x\r\n--" + long[:68] + "xx\r\n", []string{long}, false, true, 0,
			scan{N: 77, OK: true}},
		{"need more: a dash may follow", "x\r\n--b-", []string{"b"}, false, false, 0,
			scan{N: 1, OK: true}},
		{"need more: a partial dash-boundary at the end", "x\r\n--", []string{"b"}, false, false, 0,
			scan{N: 1, OK: true}},
		{"padding past the line limit", "x\r\n--b" + strings.Repeat(" ", 20) + "\r\n", []string{"b"}, false, false, 10,
			scan{N: 1, OK: false}},
		{"no delimiter at the end of input", "abc\r\n", []string{"b"}, false, true, 0,
			scan{N: 5, OK: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maxLine := tc.maxLine
			if maxLine == 0 {
				maxLine = 1000
			}
			r, ok := scanDelimiter([]byte(tc.buf), levelsOf(tc.levels...), tc.atStart, tc.eof, maxLine)
			got := scan{r.n, ok, r.found, r.level, r.close, r.line, r.dash, r.bareLF}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scanDelimiter(%q, %q, atStart=%v, eof=%v) mismatch (-want +got):\n%s", tc.buf, tc.levels, tc.atStart, tc.eof, diff)
			}
		})
	}
}

func TestPartialTail(t *testing.T) {
	for _, tc := range []struct {
		name    string
		buf     string
		levels  []string
		atStart bool
		want    int
	}{
		{"CRLF and part of a dash-boundary", "abc\r\n--ba", []string{"batch"}, false, 3},
		{"quirk 4 bare LF and part of a dash-boundary", "abc\n--b", []string{"batch"}, false, 3},
		{"a CR at the end", "abc\r", []string{"batch"}, false, 3},
		{"a line break at the end", "abc\r\n", []string{"batch"}, false, 3},
		{"a line not beginning a dash-boundary", "abc\r\n--x", []string{"batch"}, false, 8},
		{"CR not followed by LF", "abc\r--ba", []string{"batch"}, false, 8},
		{"no line break", "abc--ba", []string{"batch"}, false, 7},
		{"a dash-boundary prefix at the start of a region", "--ba", []string{"batch"}, true, 0},
		{"the same bytes in the middle of a line", "--ba", []string{"batch"}, false, 4},
		{"a prefix of the inner level's dash-boundary only", "x\n--c", []string{"batch", "cs"}, false, 1},
		{"far from the end", "\r\n--" + strings.Repeat("a", 20), []string{"batch"}, false, 24},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := partialTail([]byte(tc.buf), levelsOf(tc.levels...), tc.atStart); got != tc.want {
				t.Errorf("partialTail(%q, %q, atStart=%v) = %d, want %d", tc.buf, tc.levels, tc.atStart, got, tc.want)
			}
		})
	}
}

func TestStrayLine(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     string
		cut      bool
		offset   int64
	}{
		{"another boundary", "--batch_abc\r\nContent-Type: x\r\n", "--batch_abc", false, 0},
		{"quirk 4 bare LF", "--batch_abc\nx", "--batch_abc", false, 0},
		{"quirk 14 not at the line start", "x --a\r\n", "", false, 0},
		{"on a later line", "a\r\n\r\n--c--\r\n", "--c--", false, 5},
		{"only the first", "--one\n--two\n", "--one", false, 0},
		{"a dash and a space is no delimiter", "-- x\n- -y\n--z", "--z", false, 10},
		{"two dashes alone are no delimiter", "--\r\n---\r\n", "---", false, 4},
		{"input ends inside the line", "x\n--abc", "--abc", false, 2},
		{"input ends after a CR", "x\n--abc\r", "--abc", false, 2},
		{"cut at maxStray bytes", "--" + strings.Repeat("y", 100) + "\r\n", "--" + strings.Repeat("y", maxStray-2), true, 0},
		{"exactly maxStray bytes", "--" + strings.Repeat("y", maxStray-2) + "\r\n", "--" + strings.Repeat("y", maxStray-2), false, 0},
		{"none", "preamble\r\n", "", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Whole, then one byte at a time: the same answer.
			for _, step := range []int{len(tc.in), 1} {
				var s strayLine
				for i := 0; i < len(tc.in); i += step {
					s.feed([]byte(tc.in[i:min(i+step, len(tc.in))]), int64(i))
				}
				line, cut := s.text()
				var offset int64
				if line != "" {
					offset = s.offset
				}
				if line != tc.line || cut != tc.cut || offset != tc.offset {
					t.Errorf("feed(%q) in steps of %d: text() = %q, %v at %d, want %q, %v at %d", tc.in, step, line, cut, offset, tc.line, tc.cut, tc.offset)
				}
			}
		})
	}
}

// TestScanLevels checks that scanOne and the one-pass scan inside
// changesets give scanReference's answers, on buffers pieced together from
// delimiter lines of one or several levels (boundaries that are prefixes of
// each other, one longer than a needle), partial ones, padding, bare LFs and
// dashes.
func TestScanLevels(t *testing.T) {
	long := strings.Repeat("0123456789", 7)
	sets := [][]string{
		{"b"}, {"batch_36522ad7"}, {long}, {"b", "cs"}, {"b--", "b"}, {"b", "b--"}, {"batch", "batch_1"}, {"batch_1", "batch"}, {"b", "cs", "c"},
		{"batch_36522ad7", "changeset_77162fcd"}, {long, "cs"}, {"cs", long, long[:68] + "x"},
	}
	pieces := []string{"\r\n", "\n", "\r", "-", "--", " ", "\t", "x", "body", "\r\n\r\n", "---", "\r\n--"}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 50000; n++ {
		set := sets[rng.IntN(len(sets))]
		var b strings.Builder
		for range rng.IntN(8) {
			if rng.IntN(3) == 0 {
				d := "--" + set[rng.IntN(len(set))]
				if rng.IntN(4) == 0 {
					d = d[:rng.IntN(len(d)+1)]
				}
				b.WriteString(d)
			} else {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		buf := []byte(b.String())
		levels := levelsOf(set...)
		atStart, eof := rng.IntN(2) == 0, rng.IntN(2) == 0
		maxLine := 1000
		if rng.IntN(4) == 0 {
			maxLine = 4 + rng.IntN(8)
		}
		r1, ok1 := scanDelimiter(buf, levels, atStart, eof, maxLine)
		r2, ok2 := scanReference(buf, levels, atStart, eof, maxLine)
		if r1 != r2 || ok1 != ok2 {
			t.Fatalf("scanDelimiter(%q, %q, atStart=%v, eof=%v, maxLine=%d) = %+v, %v; scanReference = %+v, %v",
				buf, set, atStart, eof, maxLine, r1, ok1, r2, ok2)
		}
	}
}

// scanReference is scanDelimiter as first written: each level's
// dash-boundary searched in turn, innermost first, each search stopped where
// an earlier find makes later hits moot. scanOne and scanLevels are tested
// against it.
func scanReference(buf []byte, levels []level, atStart, eof bool, maxLine int) (scanResult, bool) {
	best := scanResult{n: -1}
	hold := -1    // start of the earliest undecided candidate
	tooLong := -1 // start of the earliest candidate with too much padding
	for li := len(levels) - 1; li >= 0; li-- {
		lv := &levels[li]
		end := len(buf)
		if lim := minPos(minPos(best.n, hold), tooLong); lim >= 0 && lim+2+len(lv.dash) < end {
			end = lim + 2 + len(lv.dash)
		}
		needle := lv.needle()
		from := 0
		for from < end {
			i := bytes.Index(buf[from:end], needle)
			if i < 0 {
				break
			}
			i += from
			from = i + 1
			r, outcome := checkCandidate(buf, i, lv.dash, atStart, eof, maxLine)
			switch outcome {
			case candNo:
				continue
			case candTooLong:
				tooLong = minPos(tooLong, r.n)
			case candUndecided:
				if hold < 0 || r.n < hold {
					hold = r.n
				}
			case candYes:
				if best.n < 0 || r.n < best.n {
					r.level = li
					r.found = true
					best = r
				}
			}
			break
		}
	}
	if tooLong >= 0 && (best.n < 0 || tooLong < best.n) && (hold < 0 || tooLong < hold) {
		return scanResult{n: tooLong}, false
	}
	if best.n >= 0 && (hold < 0 || best.n < hold) {
		return best, true
	}
	if hold >= 0 {
		return scanResult{n: hold}, true
	}
	if eof {
		return scanResult{n: len(buf)}, true
	}
	return scanResult{n: partialTail(buf, levels, atStart)}, true
}
