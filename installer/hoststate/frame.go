package hoststate

import (
	"bytes"
	"fmt"
	"strings"
)

// Every read-only host script prints one format: NUL-terminated fields.
// Names on a host may hold any byte but NUL, so no name can end a field or
// look like a line. Each record starts with a tag field that fixes how many
// fields follow; names only ever stand at positions a tag gave them, never
// where a tag is read, so no name (not even "@@obsbox end") can pass for
// one. The end tag comes last: without it the output was cut short.

// tagEnd ends the output of every host script.
const tagEnd = "@@obsbox end"

// printEnd is the shell that prints the end tag.
const printEnd = "printf '" + tagEnd + "\\000'"

// readTagged reads out as tagged records: a tag, then arity[tag] fields,
// each passed to each. other, when set, may claim a field standing where a
// tag is read that is no tag (sha256sum's own records). Only fields whose
// NUL arrived count: a cut-off tail is dropped and the missing end tag
// reports it. Nothing may follow the end tag.
func readTagged(out []byte, what string, arity map[string]int, other func(string) bool, each func(tag string, f []string) error) error {
	ended := fmt.Errorf("%s's output ended early", what)
	last := bytes.LastIndexByte(out, 0)
	if last < 0 {
		return ended
	}
	fields := strings.Split(string(out[:last]), "\x00")
	for i := 0; i < len(fields); {
		tag := fields[i]
		i++
		if tag == tagEnd {
			if i != len(fields) {
				return fmt.Errorf("%s's output goes on after its end", what)
			}
			return nil
		}
		if other != nil && other(tag) {
			continue
		}
		n, ok := arity[tag]
		if !ok {
			return fmt.Errorf("%s's output holds an unexpected field %q", what, clip(tag))
		}
		if i+n > len(fields) {
			return ended
		}
		if err := each(tag, fields[i:i+n]); err != nil {
			return err
		}
		i += n
	}
	return ended
}

// kindOf reads find's %y.
func kindOf(y string) Kind {
	switch y {
	case "f":
		return KindFile
	case "d":
		return KindDir
	case "l":
		return KindLink
	}
	return KindOther
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
