//go:build !linux

package supervisor

// physicalMemory is unknown off Linux: memoryForPull assumes 8 GiB.
func physicalMemory() int64 { return 0 }
