package batch_test

import (
	"strings"
	"testing"
)

// TestOptionsDoNotMix proves that an option meant for another side does not
// compile where it is passed: each call below is compiled as a program of
// its own and must fail with a type error, while the same options passed
// where they belong compile.
func TestOptionsDoNotMix(t *testing.T) {
	wrong := []struct{ name, call string }{
		{"server option to NewDecoder", `batch.NewDecoder(strings.NewReader(""), "multipart/mixed; boundary=b", batchhttp.MaxOperations(1))`},
		{"server option to NewDecoder, spool", `batch.NewDecoder(strings.NewReader(""), "multipart/mixed; boundary=b", batchhttp.SpoolMemory(0))`},
		{"encoding option to NewDecoder", `batch.NewDecoder(strings.NewReader(""), "multipart/mixed; boundary=b", batch.WithDialect(batch.UCWA))`},
		{"decoding option to NewEncoder", `batch.NewEncoder(io.Discard, batch.Strict(true))`},
		{"limit to NewEncoder", `batch.NewEncoder(io.Discard, batch.MaxParts(1))`},
		{"client option to Handler", `batchhttp.Handler(http.NotFoundHandler(), batchhttp.ContinueOnError(true))`},
		{"server option to NewRequest", `b.NewRequest(context.Background(), "http://x/$batch", batchhttp.MaxOperations(1))`},
		{"codec option to Handler unwrapped", `batchhttp.Handler(http.NotFoundHandler(), batch.MaxParts(1))`},
	}
	right := []string{
		`batch.NewDecoder(strings.NewReader(""), "multipart/mixed; boundary=b", batch.Strict(true), batch.MaxParts(1))`,
		`batch.NewEncoder(io.Discard, batch.WithDialect(batch.UCWA))`,
		`batchhttp.Handler(http.NotFoundHandler(), batchhttp.MaxOperations(1), batchhttp.Decoding(batch.MaxParts(1)), batchhttp.Encoding(batch.WithDialect(batch.SharePoint)))`,
		`b.NewRequest(context.Background(), "http://x/$batch", batchhttp.ContinueOnError(true), batchhttp.Encoding(batch.WithDialect(batch.UCWA)))`,
	}
	var blocks []readmeBlock
	for i, w := range wrong {
		blocks = append(blocks, readmeBlock{line: i, code: optionsProgram(w.call)})
	}
	blocks = append(blocks, readmeBlock{line: len(wrong), code: optionsProgram(strings.Join(right, "\n\t"))})
	dir, progs := readmeModule(t, blocks)
	for i, w := range wrong {
		out, err := goCommand(dir, "vet", "./"+progs[i][len(dir)+1:]).CombinedOutput()
		if err == nil {
			t.Errorf("%s: %s compiles, want a type error", w.name, w.call)
			continue
		}
		if !strings.Contains(string(out), "cannot use") {
			t.Errorf("%s: want a \"cannot use\" type error, got:\n%s", w.name, out)
		}
	}
	if out, err := goCommand(dir, "vet", "./"+progs[len(wrong)][len(dir)+1:]).CombinedOutput(); err != nil {
		t.Errorf("options passed where they belong do not compile:\n%s", out)
	}
}

// optionsProgram is a program whose main makes the given calls.
func optionsProgram(calls string) string {
	return goProgram("", "\tb := new(batchhttp.RequestBatch)\n\t_ = b\n\t"+calls)
}
