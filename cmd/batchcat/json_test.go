package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestConvertRoundTrip converts every multipart vector that the JSON format
// can hold to JSON and back (-to json, then -to multipart), and checks that
// the operations are the same: targets, statuses, headers, bodies,
// Content-IDs (generated ones aside) and changeset membership.
func TestConvertRoundTrip(t *testing.T) {
	vectors, err := filepath.Glob("../../testdata/vectors/*.batch")
	require.NoError(t, err)
	converted, refused := 0, 0
	for _, v := range vectors {
		data, err := os.ReadFile(v)
		require.NoError(t, err)
		name := filepath.Base(v)
		t.Run(name, func(t *testing.T) {
			orig := batchcat(t, data, "-json", "-body")
			if orig.code != 0 {
				return // not a valid batch: nothing to convert
			}
			toJSON := batchcat(t, data, "-to", "json")
			if toJSON.code != 0 {
				// What JSON cannot say is refused as invalid input, with
				// the reason: parts that are not operations, changesets
				// in changesets, requests and responses in one batch, a
				// Content-ID used twice, a body without Content-Type that
				// is not JSON.
				require.Equal(t, exitInvalid, toJSON.code, toJSON.stderr)
				require.Regexp(t, `^batchcat: standard input: (jsonbatch|batch): `, toJSON.stderr)
				refused++
				return
			}
			require.True(t, json.Valid([]byte(toJSON.stdout)), "-to json output is JSON:\n%s", toJSON.stdout)
			tree := batchcat(t, []byte(toJSON.stdout))
			require.Equal(t, 0, tree.code, "the JSON batch is sniffed and read: %s", tree.stderr)
			back := batchcat(t, []byte(toJSON.stdout), "-to", "multipart")
			require.Equal(t, 0, back.code, back.stderr)
			again := batchcat(t, []byte(back.stdout), "-json", "-body")
			require.Equal(t, 0, again.code, again.stderr)

			// The multipart encoder writes names in canonical form;
			// the names, not their case, must survive.
			want, got := canonical(jsonBodies(t, readJSONL(t, orig.stdout))), canonical(jsonBodies(t, readJSONL(t, again.stdout)))
			require.Len(t, got, len(want))
			for i := range want {
				// Content-Length is framing: a JSON body carries its
				// own length, and the multipart encoder writes it anew.
				// A Content-ID among the embedded headers (as Cosmos
				// writes it) is the operation's id, compared below.
				for _, h := range []string{"Content-Length", "Content-Id"} {
					delete(want[i].Headers, h)
					delete(got[i].Headers, h)
				}
				if want[i].ContentID == "" {
					// The JSON format needs an id; the converter makes
					// one up where the multipart batch had none.
					want[i].ContentID = got[i].ContentID
				}
				if (want[i].Changeset == "") != (got[i].Changeset == "") {
					t.Errorf("operation %d: changeset %q, after the round trip %q", i, want[i].Changeset, got[i].Changeset)
				}
				want[i].Changeset, got[i].Changeset = "", ""
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("multipart -> JSON -> multipart (-want +got):\n%s", diff)
			}
			converted++
		})
	}
	require.Greater(t, converted, 2*refused, "most vectors convert (%d converted, %d refused)", converted, refused)
}

// jsonBodies replaces each JSON body of ops by its compact form, as its
// digest: a JSON batch holds a JSON body as a JSON value, so the white
// space around it is not kept, while the value is. A body of white space
// alone that would be JSON (a GET's stray blank line) is no body.
func jsonBodies(t *testing.T, ops []jsonOp) []jsonOp {
	t.Helper()
	for i := range ops {
		op := &ops[i]
		if op.Body == nil {
			continue
		}
		var ct string
		for k, v := range op.Headers {
			if strings.EqualFold(k, "Content-Type") && len(v) > 0 {
				ct = v[0]
			}
		}
		if ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
			continue
		}
		var b bytes.Buffer
		switch {
		case strings.TrimSpace(*op.Body) == "":
		case json.Valid([]byte(*op.Body)):
			require.NoError(t, json.Compact(&b, []byte(*op.Body)))
		default:
			continue
		}
		op.BodyLen, op.BodySHA256 = int64(b.Len()), sha256Hex(b.Bytes())
	}
	return ops
}

// TestJSONInput reads the JSON batch vectors: sniffed by their first byte
// or named by -content-type, printed as a tree, validated, and refused
// when cut short.
func TestJSONInput(t *testing.T) {
	vectors, err := filepath.Glob("../../jsonbatch/testdata/vectors/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, vectors)
	for _, v := range vectors {
		data, err := os.ReadFile(v)
		require.NoError(t, err)
		t.Run(filepath.Base(v), func(t *testing.T) {
			tree := batchcat(t, data)
			require.Equal(t, 0, tree.code, tree.stderr)
			require.True(t, strings.HasPrefix(tree.stdout, "json batch"), tree.stdout)
			named := batchcat(t, data, "-content-type", "application/json; charset=utf-8")
			require.Equal(t, 0, named.code, named.stderr)
			require.Equal(t, 0, batchcat(t, data, "-validate").code)

			cut := batchcat(t, data[:len(data)/2], "-validate")
			require.Equal(t, exitInvalid, cut.code, "a JSON batch cut in half is invalid")
			require.Contains(t, cut.stderr, "truncated")
		})
	}
	wrong := batchcat(t, []byte(`{"requests":[]}`), "-json")
	require.Equal(t, exitUsage, wrong.code)
	require.Contains(t, wrong.stderr, "JSON batch already")
}
