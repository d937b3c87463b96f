// Command obsbox installs and runs a Prometheus monitoring stack on plain hosts over SSH.
package main

import (
	"errors"
	"fmt"
	"os"
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks an error as exit code 2 (bad usage or invalid inventory).
func usageError(err error) error { return &exitError{code: 2, err: err} }

// failure marks an error as exit code 1 (the work failed).
func failure(err error) error { return &exitError{code: 1, err: err} }

// silentExit ends the process with code without printing anything more.
func silentExit(code int) error { return &exitError{code: code} }

func main() {
	root := newRootCmd()
	err := root.Execute()
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			os.Exit(code)
		}
	} else if isUsage(err) {
		code = 2
	}
	fmt.Fprintf(os.Stderr, "Error: %s\n", err)
	os.Exit(code)
}
