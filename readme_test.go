package batch_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The README's Go blocks are compiled and its two programs run against each
// other, so that what a reader copies works as written.

// readmeBlock is one ```go block of README.md.
type readmeBlock struct {
	line int // 1-based line of the opening fence
	code string
}

// readmeGoBlocks returns README.md's ```go blocks.
func readmeGoBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	data, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var blocks []readmeBlock
	var cur *readmeBlock
	var b strings.Builder
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &readmeBlock{line: i + 1}
			b.Reset()
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.code = b.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	require.Nil(t, cur, "README.md: unterminated ```go block")
	return blocks
}

// goProgram returns a main package that imports what the README's
// fragments and the option tests use, each import used once so that none is
// unused, with decls after the imports and body as main's body.
func goProgram(decls, body string) string {
	return `package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/batchhttp"
)

var (
	_ = context.Background
	_ = errors.Is
	_ = fmt.Sprint
	_ = io.EOF
	_ = http.MethodGet
	_ = os.Stdout
	_ = strings.Cut
	_ = batch.NewDecoder
	_ = batchhttp.Handler
)

` + decls + `
func main() {
` + body + `
}
`
}

// fragment turns a README fragment into a program: the fragment is the body
// of a function whose parameters are the names the fragments use.
func fragment(code string) string {
	return goProgram("func fragment(resp *http.Response, w io.Writer, dst io.Writer, mail io.Reader, ids []string) error {\n"+code+"}\n", "\t_ = fragment")
}

// packageClause finds a block that is a whole file rather than a fragment.
var packageClause = regexp.MustCompile(`(?m)^package `)

// readmeModule writes each block as a program of a module of its own in a
// temporary directory, whose go.mod points at this module's directory, and
// returns that directory and the program directories by block.
func readmeModule(t *testing.T, blocks []readmeBlock) (dir string, progs []string) {
	t.Helper()
	root, err := filepath.Abs(".")
	require.NoError(t, err)
	dir = t.TempDir()
	gomod := "module readme\n\ngo 1.24\n\nrequire github.com/batchcodec/batch v0.0.0\n\nreplace github.com/batchcodec/batch => " + root + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	for _, b := range blocks {
		code := b.code
		if !packageClause.MatchString(code) {
			code = fragment(code)
		}
		prog := filepath.Join(dir, fmt.Sprintf("line%d", b.line))
		require.NoError(t, os.MkdirAll(prog, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(prog, "main.go"), []byte(code), 0o644))
		progs = append(progs, prog)
	}
	return dir, progs
}

// goCommand returns a go command run in dir, offline from the network's
// point of view: the module needs nothing but this one and the standard
// library.
func goCommand(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	return cmd
}

func TestReadmeCompiles(t *testing.T) {
	blocks := readmeGoBlocks(t)
	require.GreaterOrEqual(t, len(blocks), 4, "README.md: the Decode and Encode fragments and the two programs")
	dir, progs := readmeModule(t, blocks)
	for i, prog := range progs {
		out, err := goCommand(dir, "vet", "./"+filepath.Base(prog)).CombinedOutput()
		if err != nil {
			t.Errorf("README.md:%d: the Go block does not compile:\n%s", blocks[i].line, out)
		}
	}
}

// TestReadmePrograms builds the README's server and client, starts the
// server on a free port and runs the client against it: it must print one
// line per request, each a 200 answer carrying its own message.
func TestReadmePrograms(t *testing.T) {
	blocks := readmeGoBlocks(t)
	var server, client []readmeBlock
	for _, b := range blocks {
		switch {
		case strings.HasPrefix(b.code, "// The server"):
			server = append(server, b)
		case strings.HasPrefix(b.code, "// The client"):
			client = append(client, b)
		}
	}
	require.Len(t, server, 1, "README.md: one block starting with // The server")
	require.Len(t, client, 1, "README.md: one block starting with // The client")
	dir, progs := readmeModule(t, append(server, client...))
	bin := t.TempDir()
	for i, name := range []string{"server", "client"} {
		out, err := goCommand(dir, "build", "-o", filepath.Join(bin, name), "./"+filepath.Base(progs[i])).CombinedOutput()
		require.NoError(t, err, "building the README's %s:\n%s", name, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var addr string
	for attempt := 1; addr == ""; attempt++ {
		require.LessOrEqual(t, attempt, 5, "the README server did not start")
		addr = startReadmeServer(ctx, t, filepath.Join(bin, "server"))
	}

	out, err := exec.CommandContext(ctx, filepath.Join(bin, "client"), "-url", "http://"+addr+"/api/v2.0/$batch").CombinedOutput()
	require.NoError(t, err, "the README client:\n%s", out)
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.Len(t, lines, 20, "the README client's output:\n%s", out)
	for i, line := range lines {
		want := fmt.Sprintf(`%d 200 OK {"value":[{"Subject":"message %d"}]}`, i, i)
		require.Equal(t, want, line, "line %d of the README client's output", i+1)
	}
}

// startReadmeServer starts the README's server on a port found free and
// returns its address once it listens there, or "" if the server exited:
// another process (go test runs packages side by side) took the port
// between the probe's Close and the server's bind.
func startReadmeServer(ctx context.Context, t *testing.T, bin string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	srv := exec.CommandContext(ctx, bin, "-addr", addr)
	srv.Stderr = os.Stderr
	require.NoError(t, srv.Start())
	exited := make(chan struct{})
	go func() {
		_ = srv.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			return ""
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		require.True(t, time.Now().Before(deadline), "the README server did not start listening on %s", addr)
	}
}
