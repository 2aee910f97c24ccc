//go:build !unix

package pgtest

import "syscall"

// procAttr returns how to run the server processes: as this user.
func procAttr(string) (*syscall.SysProcAttr, error) { return nil, nil }
