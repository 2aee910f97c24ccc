//go:build unix

package pgtest

import (
	"os"
	"syscall"
)

// procAttr returns how to run the server processes: as an unprivileged user, the owner of dir,
// when this process is root.
func procAttr(dir string) (*syscall.SysProcAttr, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	uid, gid, err := unprivileged()
	if err != nil {
		return nil, err
	}
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, err
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}, nil
}
