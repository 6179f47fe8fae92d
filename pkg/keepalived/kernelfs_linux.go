package keepalived

import (
	"os"
	"syscall"
)

// Magic numbers of the file systems whose files are made by the kernel on
// read (statfs(2)): their sizes say nothing of what a read gives, and
// some reads (/proc/kmsg) wait for the kernel for ever.
var kernelFS = map[int64]string{
	0x9fa0:     "proc",
	0x62656572: "sysfs",
	0x64626720: "debugfs",
	0x74726163: "tracefs",
	0x73636673: "securityfs",
	0x27e0eb:   "cgroup",
	0x63677270: "cgroup2",
}

// kernelFile names the kernel file system f is on, or "".
func kernelFile(f *os.File) string {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		return ""
	}
	return kernelFS[int64(st.Type)]
}
