package batch

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// The fuzz targets check properties, not only that nothing panics:
//
//   - FuzzDecode: arbitrary bytes under an arbitrary Content-Type never panic,
//     every error is typed, memory stays within the configured limits, and a
//     strict success is a lenient success with the same parts.
//   - FuzzChunking: whole reads and short reads of every size decode alike.
//   - FuzzRoundTrip: a structured random batch, encoded then decoded, is the
//     input.
//   - FuzzReencode: whatever decodes, re-encoded and decoded again, gives the
//     same operations.
//   - FuzzStdlibDiff: on single-level CRLF batches that mime/multipart and
//     net/http read, the decoder finds the same parts and bodies.
//   - FuzzTruncation: a valid batch cut before its close delimiter fails with
//     ErrTruncated, never succeeds.
//
// Every target is seeded at run time with every vector under
// testdata/vectors, and by the files under testdata/fuzz/<Target>/.

// FuzzDecode decodes arbitrary bytes under an arbitrary Content-Type, with
// the default limits, tiny limits and strict mode.
func FuzzDecode(f *testing.F) {
	addVectorSeeds(f, func(v vector) { f.Add(v.Data, v.ContentType) })
	f.Add(genBatch("b", "\r\n", [][]byte{[]byte("x"), nil}), "multipart/mixed; boundary=b")
	f.Add([]byte("--b\n\n--b--"), "multipart/batching; boundary=b")
	f.Fuzz(func(t *testing.T, data []byte, contentType string) {
		var lenient []decoded
		var lenientErr error
		var lenientDevs Deviation
		for _, l := range fuzzLimits {
			got, devs, err := decodeChecked(t, l.name, data, contentType, l.opts...)
			switch l.name {
			case "default":
				lenient, lenientErr, lenientDevs = got, err, devs
			case "strict":
				if err != nil {
					if lenientErr == nil && !errors.Is(err, ErrNonconforming) {
						t.Fatalf("strict decode failed with %v, lenient decode succeeded", err)
					}
					continue
				}
				if lenientErr != nil {
					t.Fatalf("strict decode succeeded, lenient decode failed with %v", lenientErr)
				}
				if lenientDevs != 0 {
					t.Fatalf("strict decode succeeded, lenient decode saw deviations %v", lenientDevs)
				}
				if diff := cmp.Diff(lenient, got, normalize); diff != "" {
					t.Fatalf("strict and lenient decodes differ (-lenient +strict):\n%s", diff)
				}
			}
		}
	})
}

// FuzzChunking checks that the result does not depend on how the input
// arrives: whole, one byte at a time, halves, or random short reads.
func FuzzChunking(f *testing.F) {
	addVectorSeeds(f, func(v vector) { f.Add(v.Data, v.ContentType, uint64(len(v.Data))) })
	f.Fuzz(func(t *testing.T, data []byte, contentType string, seed uint64) {
		want, wantErr := decodeAll(bytes.NewReader(data), contentType)
		chunked := map[string]io.Reader{
			"onebyte": iotest.OneByteReader(bytes.NewReader(data)),
			"half":    iotest.HalfReader(bytes.NewReader(data)),
			"random":  &randomReader{data: data, rng: rand.New(rand.NewPCG(seed, 7))},
		}
		for name, r := range chunked {
			got, err := decodeAll(r, contentType, BufferSize(1))
			if !sameError(err, wantErr) {
				t.Fatalf("%s: error %v, whole read gave %v", name, err, wantErr)
			}
			if diff := cmp.Diff(want, got, normalize); diff != "" {
				t.Fatalf("%s: chunked decode differs (-whole +chunked):\n%s", name, diff)
			}
		}
	})
}

// FuzzRoundTrip encodes a structured random batch (dialect, changesets,
// methods, headers, bodies with awkward bytes) and checks that the strict
// decoder gives it back. A batch the encoder refuses must hold a body line
// that the independent check in collides also finds to be a delimiter.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x04\x00\x07\x01\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	addVectorSeeds(f, func(v vector) { f.Add(v.Data) })
	f.Fuzz(func(t *testing.T, data []byte) { checkRoundTrip(t, data) })
}

// checkRoundTrip builds a batch from data's bytes as decisions, encodes it
// and checks that the strict decoder gives it back. It reports whether the
// encoder refused the batch for a delimiter in a body.
func checkRoundTrip(t *testing.T, data []byte) (refused bool) {
	t.Helper()
	s := &fuzzSource{b: data}
	b, opts, steps := s.genSteps()
	var buf bytes.Buffer
	e, err := NewEncoder(&buf, opts...)
	if err != nil {
		t.Fatalf("NewEncoder: %v", err)
	}
	err = s.runSteps(e, steps)
	if errors.Is(err, ErrInvalidOperation) && oddReason(steps) {
		return false
	}
	if refuse := collides(steps, b); refuse || err != nil {
		if !refuse || !errors.Is(err, ErrUnsafe) {
			t.Fatalf("encode = %v, reference collision check = %v\nsteps: %+v", err, refuse, steps)
		}
		return true
	}
	got, err := decodeItems(buf.Bytes(), e.ContentType())
	if err != nil {
		t.Fatalf("strict decode of the encoder's output: %v\n%q", err, buf.Bytes())
	}
	if diff := cmp.Diff(expectItems(steps), got); diff != "" {
		t.Fatalf("decode(encode(x)) mismatch (-want +got):\n%s\n%q", diff, buf.Bytes())
	}
	// An independent MIME parser frames the output the same way.
	raw, err := stdlibRawOps(buf.Bytes(), b)
	if err != nil {
		t.Fatalf("mime/multipart cannot read the encoder's output: %v\n%q", err, buf.Bytes())
	}
	var bodies []string
	for _, it := range got {
		if it.Kind == KindOperation {
			bodies = append(bodies, it.Body)
		}
	}
	if len(raw) != len(bodies) {
		t.Fatalf("mime/multipart reads %d operations, the decoder %d\n%q", len(raw), len(bodies), buf.Bytes())
	}
	for i := range raw {
		if !bytes.HasSuffix(raw[i], []byte("\r\n\r\n"+bodies[i])) {
			t.Fatalf("operation %d: mime/multipart's part %q does not end in the decoder's body %q", i, raw[i], bodies[i])
		}
	}
	return false
}

// reencodeSteps turns a decoded batch into encoder steps, or reports that
// the encoder cannot write it as it is: nested changesets, or operations
// the encoder refuses to write (non-token methods, control bytes, status
// codes outside 100-999). Parts of kind other are dropped: the encoder
// writes only operations. An operation whose Content-ID came from its
// embedded headers gets it as its ContentID (as Cosmos writes it); boundaries
// the encoder cannot write are replaced.
func reencodeSteps(data []byte, contentType string) (b string, opts []EncodeOption, steps []step, ok bool) {
	mt, b, err := ParseContentType(contentType)
	if err != nil {
		return "", nil, nil, false
	}
	d, err := NewDecoderBoundary(bytes.NewReader(data), b)
	if err != nil {
		return "", nil, nil, false
	}
	if !ValidBoundary(b) {
		b = "batch_re"
	}
	dialect := ODataV4
	if mt == "multipart/batching" {
		dialect = UCWA
	}
	ncs := 0
	for {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, nil, false
		}
		switch p.Kind() {
		case KindChangesetStart:
			if p.Depth() > 0 || dialect == UCWA {
				return "", nil, nil, false
			}
			cs := string(p.Boundary())
			ncs++
			if !ValidBoundary(cs) || confusable(cs, b) {
				cs = "changeset_re" + strings.Repeat("_", ncs)
			}
			hdr := p.PartHeader().Fields()
			if validateFields(hdr, "PartHeader") != nil {
				hdr = nil
			}
			steps = append(steps, step{begin: true, csBoundary: cs, csHeader: hdr})
		case KindChangesetEnd:
			steps = append(steps, step{end: true})
		case KindOperation:
			op := p.Operation()
			if op.ContentID == "" {
				// Operation cannot tell an empty Content-ID part
				// header from none; written without one, the
				// embedded Content-ID is read back instead.
				for _, f := range op.Header {
					if strings.EqualFold(f.Name, "content-id") {
						op.ContentID = f.Value
						break
					}
				}
			}
			if validateOperation(&op) != nil {
				return "", nil, nil, false
			}
			body, err := io.ReadAll(p)
			if err != nil {
				return "", nil, nil, false
			}
			steps = append(steps, step{op: &op, body: string(body)})
		}
	}
	return b, []EncodeOption{WithBoundary(b), WithDialect(dialect)}, steps, true
}

// FuzzReencode decodes arbitrary input; whatever decodes without error is
// encoded again and decoded strictly, and must give the same operations.
func FuzzReencode(f *testing.F) {
	addVectorSeeds(f, func(v vector) { f.Add(v.Data, v.ContentType) })
	f.Fuzz(func(t *testing.T, data []byte, contentType string) {
		b, opts, steps, ok := reencodeSteps(data, contentType)
		if !ok {
			return
		}
		var buf bytes.Buffer
		e, err := NewEncoder(&buf, opts...)
		if err != nil {
			t.Fatalf("NewEncoder: %v", err)
		}
		err = run(e, steps)
		if refuse := collides(steps, b); refuse || err != nil {
			// A body line the encoder takes for a delimiter: split at
			// a lone CR, say, which the decoder does not split at.
			if !refuse || !errors.Is(err, ErrUnsafe) {
				t.Fatalf("re-encode = %v, reference collision check = %v\nsteps: %+v", err, refuse, steps)
			}
			return
		}
		// The only deviation the encoder writes is one it was given: an
		// embedded Content-Length that disagrees with the body.
		got, err := decodeItems(buf.Bytes(), e.ContentType())
		if errors.Is(err, ErrNonconforming) {
			var se *SyntaxError
			if errors.As(err, &se) && se.Deviation == DevContentLength {
				got, err = decodeItemsWith(buf.Bytes(), e.ContentType())
			}
		}
		if err != nil {
			t.Fatalf("decode of the re-encoded batch: %v\n%q", err, buf.Bytes())
		}
		if diff := cmp.Diff(expectItems(steps), got); diff != "" {
			t.Fatalf("decode(encode(decode(x))) mismatch (-first decode +second):\n%s\n%q", diff, buf.Bytes())
		}
	})
}

// decodeItemsWith is decodeItems without Strict, keeping the deviations
// other than DevContentLength errors.
func decodeItemsWith(data []byte, contentType string) ([]item, error) {
	d, err := NewDecoder(bytes.NewReader(data), contentType)
	if err != nil {
		return nil, err
	}
	return collect(d, func(p *Part) (item, error) {
		if dev := p.Deviations() &^ DevContentLength; dev != 0 {
			return item{}, &SyntaxError{Offset: p.Offset(), Part: p.Index(), Err: ErrNonconforming, Deviation: dev}
		}
		return itemOf(p)
	})
}

// FuzzStdlibDiff compares the decoder with the standard library
// composition on single-level CRLF batches: wherever the standard library
// reads the input without error, the decoder must too, with the same parts,
// start lines, headers and body bytes. Inputs with a bare LF or a leading
// BOM are left out: there the decoder is right and the standard library is
// not (mime/multipart fixes its line-break mode at the first delimiter and
// finds no part behind a BOM).
func FuzzStdlibDiff(f *testing.F) {
	addVectorSeeds(f, func(v vector) {
		if _, b, err := ParseContentType(v.ContentType); err == nil {
			f.Add(v.Data, b)
		}
	})
	f.Add(genBatch("batch_1", "\r\n", [][]byte{[]byte("{}\r\n--batch_1x\r\n--"), nil, []byte("\r\n")}), "batch_1")
	f.Fuzz(func(t *testing.T, data []byte, boundary string) {
		if !readableBoundary(boundary) || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
			return
		}
		for i, c := range data {
			if c == '\n' && (i == 0 || data[i-1] != '\r') {
				return
			}
		}
		want, ok := stdlibParts(data, boundary)
		if !ok {
			return
		}
		got, err := batchParts(data, boundary)
		if errors.Is(err, ErrLineTooLong) || errors.Is(err, ErrHeaderTooLarge) || errors.Is(err, ErrTooManyParts) {
			return // the decoder's limits are tighter than mime/multipart's
		}
		if errors.Is(err, ErrTruncated) && !hasCloseLine(data, boundary) {
			// mime/multipart takes input that ends inside a part's
			// header block for the end of the batch (NextPart returns
			// io.EOF): a truncated batch read as a shorter one, which
			// the decoder must not do.
			return
		}
		if err != nil {
			t.Fatalf("standard library reads %d parts, decoder fails: %v", len(want), err)
		}
		if diff := cmp.Diff(want, got, normalize); diff != "" {
			t.Fatalf("decoder differs from the standard library (-stdlib +batch):\n%s", diff)
		}
	})
}

// FuzzTruncation cuts a valid batch at a fuzzer-chosen offset before the end
// of its close delimiter: decoding must fail with ErrTruncated (which also
// matches io.ErrUnexpectedEOF), whatever the chunking. With a Content-Type
// the batch is the fuzzer's bytes (when they decode); without one it is a
// structured random batch from the encoder.
func FuzzTruncation(f *testing.F) {
	addVectorSeeds(f, func(v vector) { f.Add(v.Data, v.ContentType, uint32(len(v.Data)/2)) })
	f.Add([]byte("\x01\x04\x00\x07\x01\x01\x02\x03\x04\x05\x06\x07\x08"), "", uint32(40))
	f.Fuzz(func(t *testing.T, data []byte, contentType string, cut uint32) {
		if contentType == "" {
			s := &fuzzSource{b: data}
			_, opts, steps := s.genSteps()
			var buf bytes.Buffer
			e, err := NewEncoder(&buf, opts...)
			if err != nil {
				t.Fatalf("NewEncoder: %v", err)
			}
			if s.runSteps(e, steps) != nil {
				return // refused; FuzzRoundTrip checks why
			}
			data, contentType = buf.Bytes(), e.ContentType()
		}
		end := closeOffset(data, contentType)
		if end < 0 {
			return
		}
		n := int(cut % uint32(end))
		prefix := data[:n]
		for _, r := range []io.Reader{bytes.NewReader(prefix), iotest.OneByteReader(bytes.NewReader(prefix))} {
			_, err := decodeAll(r, contentType, BufferSize(1))
			if err == nil && endsInCloseLine(prefix, contentType) {
				continue
			}
			if !errors.Is(err, ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d of %d: error %v, want ErrTruncated\n%q", n, end, err, prefix)
			}
		}
		if _, err := decodeAll(bytes.NewReader(data[:end]), contentType); err != nil {
			t.Fatalf("cut just after the close delimiter (%d): %v", end, err)
		}
	})
}

// hasCloseLine reports whether data holds the close delimiter of boundary at
// the start of a line.
func hasCloseLine(data []byte, boundary string) bool {
	c := []byte("--" + boundary + "--")
	return bytes.HasPrefix(data, c) || bytes.Contains(data, append([]byte("\n"), c...))
}
