package batch

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCorpus decodes every payload of the public conformance corpus (third
// party data, read where it lies: never copied into the repository) and
// checks the operation and changeset counts its manifest gives, which two
// independent parsers agree on.
func TestCorpus(t *testing.T) {
	dir := os.Getenv("BATCH_CORPUS")
	if dir == "" {
		t.Skip("BATCH_CORPUS is not set: the third-party corpus is not part of the repository; .ci/run sets it when ../shared/corpus exists")
	}
	f, err := os.Open(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		t.Fatalf("BATCH_CORPUS=%s: %v", dir, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header row
	rows := 0
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 6 {
			continue
		}
		rows++
		path, ctype, kind, valid := cols[0], cols[1], cols[2], cols[5]
		wantOps, _ := strconv.Atoi(cols[3])
		wantCS, _ := strconv.Atoi(cols[4])
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, path))
			if err != nil {
				t.Fatal(err)
			}
			d, err := NewDecoder(strings.NewReader(string(data)), ctype)
			if err != nil {
				t.Fatalf("NewDecoder(%q): %v", ctype, err)
			}
			ops, cs, other := 0, 0, 0
			for {
				p, err := d.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("Next after %d ops: %v", ops, err)
				}
				switch p.Kind() {
				case KindOperation:
					ops++
					if got := p.Message().String(); got != kind {
						t.Errorf("operation %d (part %d): message %q, manifest says %q", ops-1, p.Index(), got, kind)
					}
					if _, err := io.Copy(io.Discard, p); err != nil {
						t.Fatalf("reading body of part %d: %v", p.Index(), err)
					}
				case KindChangesetStart:
					cs++
				case KindOther:
					other++
				}
			}
			if ops != wantOps || cs != wantCS {
				t.Errorf("decoded %d ops and %d changesets (%d other parts), manifest says %d and %d", ops, cs, other, wantOps, wantCS)
			}
			if valid == "no" {
				// Broken framing, tolerated above: strict mode refuses it.
				if _, err := decodeAll(strings.NewReader(string(data)), ctype, Strict(true)); !errors.Is(err, ErrNonconforming) {
					t.Errorf("strict decode of a payload with broken framing: %v, want ErrNonconforming", err)
				}
			}
		})
	}
	if rows == 0 {
		t.Fatalf("no rows in %s/manifest.tsv", dir)
	}
}
