package bundles

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/obsbox/obsbox/installer/catalog"
)

// NormalizeSHA256 lower-cases a hex SHA-256 and checks its shape.
func NormalizeSHA256(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "sha256:")))
	if len(s) != sha256.Size*2 {
		return "", fmt.Errorf("%q is not a SHA-256: expected 64 hex digits, got %d characters", s, len(s))
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("%q is not a SHA-256: expected 64 hex digits", s)
	}
	return s, nil
}

// lookupSum finds name's hash in a sha256sum listing ("HEX  NAME" or
// "HEX *NAME" per line). found is false when the listing has no such name.
func lookupSum(listing []byte, name string) (sum string, found bool, err error) {
	sc := bufio.NewScanner(bytes.NewReader(listing))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			continue
		}
		file := strings.TrimPrefix(strings.TrimPrefix(fields[1], "*"), "./")
		if file != name {
			continue
		}
		sum, err := NormalizeSHA256(fields[0])
		if err != nil {
			return "", false, fmt.Errorf("line %d: %w", line, err)
		}
		return sum, true, nil
	}
	return "", false, sc.Err()
}

// parseSingleSum reads a file holding one hash, possibly followed by a file name.
func parseSingleSum(content []byte, name string) (string, error) {
	fields := strings.Fields(string(content))
	if len(fields) == 0 {
		return "", fmt.Errorf("empty checksum file")
	}
	if len(fields) > 1 {
		if file := strings.TrimPrefix(strings.TrimPrefix(fields[1], "*"), "./"); file != name {
			return "", fmt.Errorf("checksum file is for %q, not %q", file, name)
		}
	}
	return NormalizeSHA256(fields[0])
}

// upstreamSum extracts name's hash from a checksum file of the given kind.
func upstreamSum(kind catalog.ChecksumKind, content []byte, name string) (string, error) {
	if kind == catalog.SingleSum {
		return parseSingleSum(content, name)
	}
	sum, found, err := lookupSum(content, name)
	if err != nil {
		return "", err
	}
	if !found {
		return "", fmt.Errorf("no line for %s", name)
	}
	return sum, nil
}
