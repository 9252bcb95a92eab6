// Foreign check of a live cairn ledger with Go's golang.org/x/mod/sumdb
// packages (from Debian's golang-golang-x-mod-dev; the Go module proxy is not
// needed): note.Open verifies every stored checkpoint under the log's
// verifier key, tlog.CheckRecord every inclusion proof of the latest
// checkpoint, tlog.CheckTree the consistency proof between each pair of
// consecutive checkpoints.
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go run main.go URL LOG_VKEY_FILE
package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var passed, failed int

func check(err error, what string) {
	if err == nil {
		passed++
		return
	}
	failed++
	fmt.Printf("  FAILED (go): %s: %v\n", what, err)
}

func get(url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		fmt.Println("go:", err)
		os.Exit(2)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		fmt.Printf("go: GET %s: %d %v\n", url, resp.StatusCode, err)
		os.Exit(2)
	}
	return body
}

type tree struct {
	size int64
	root tlog.Hash
}

// open verifies a checkpoint note and reads its size and root.
func open(text []byte, verifiers note.Verifiers) (tree, error) {
	n, err := note.Open(text, verifiers)
	if err != nil {
		return tree{}, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return tree{}, fmt.Errorf("checkpoint body has %d lines", len(lines))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return tree{}, err
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return tree{}, fmt.Errorf("bad root %q", lines[2])
	}
	var h tlog.Hash
	copy(h[:], raw)
	return tree{size, h}, nil
}

func hashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		raw, err := hex.DecodeString(s)
		if err != nil || len(raw) != tlog.HashSize {
			return nil, fmt.Errorf("bad proof hash %q", s)
		}
		copy(out[i][:], raw)
	}
	return out, nil
}

func main() {
	url := strings.TrimRight(os.Args[1], "/")
	vkey, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Println("go:", err)
		os.Exit(2)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		fmt.Println("go: the log key:", err)
		os.Exit(2)
	}
	verifiers := note.VerifierList(v)

	latest, err := open(get(url+"/v1/checkpoint"), verifiers)
	check(err, "latest checkpoint")

	var list struct {
		Checkpoints []struct {
			Note string `json:"note"`
		} `json:"checkpoints"`
	}
	if err := json.Unmarshal(get(fmt.Sprintf("%s/v1/checkpoints?from=1&to=%d", url, latest.size)), &list); err != nil {
		fmt.Println("go: checkpoints:", err)
		os.Exit(2)
	}
	var trees []tree
	for _, c := range list.Checkpoints {
		t, err := open([]byte(c.Note), verifiers)
		check(err, "stored checkpoint")
		if err == nil {
			trees = append(trees, t)
		}
	}

	var proof struct {
		Proof []string `json:"proof"`
	}
	for i := int64(0); i < latest.size; i++ {
		entry := get(fmt.Sprintf("%s/v1/entries/%d", url, i))
		if err := json.Unmarshal(get(fmt.Sprintf("%s/v1/proofs/inclusion?index=%d&size=%d", url, i, latest.size)), &proof); err != nil {
			check(err, "inclusion proof body")
			continue
		}
		p, err := hashes(proof.Proof)
		if err == nil {
			err = tlog.CheckRecord(p, latest.size, latest.root, i, tlog.RecordHash(entry))
		}
		check(err, fmt.Sprintf("inclusion of %d in %d", i, latest.size))
	}
	for k := 1; k < len(trees); k++ {
		a, b := trees[k-1], trees[k]
		if err := json.Unmarshal(get(fmt.Sprintf("%s/v1/proofs/consistency?from=%d&to=%d", url, a.size, b.size)), &proof); err != nil {
			check(err, "consistency proof body")
			continue
		}
		p, err := hashes(proof.Proof)
		if err == nil {
			err = tlog.CheckTree(p, b.size, b.root, a.size, a.root)
		}
		check(err, fmt.Sprintf("consistency %d -> %d", a.size, b.size))
	}
	fmt.Printf("go (x/mod/sumdb note, tlog): %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
