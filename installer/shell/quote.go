// Package shell is the one place that turns values into text for a remote
// POSIX shell. Every value obsbox puts into a script that runs on a host
// (paths, names, versions, arguments) goes through Quote; nothing else
// builds shell words by hand.
package shell

import "strings"

// Quote returns s as one single-quoted shell word. Inside single quotes
// nothing is special but the single quote itself, written as: close the
// quote, an escaped quote, reopen. `$(...)`, backticks, newlines and globs
// stay literal text.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each word and joins them with spaces.
func Join(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}
