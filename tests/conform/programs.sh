# The project's own programs (userland/), the same static binaries on both kernels: the
# classic /dev/mem mmap program at the interesting addresses, the memory-range ioctl
# clients (FreeBSD's ioctls: ENOTTY on Linux), a PCI BAR read through /dev/mem.
physmem 0x400 16
echo $?
physmem 0x7c00 16
echo $?
physmem 0xfed00000 8
echo $?
physmem 0x200000 16
echo $?
physmem 0x100000000000 16
echo $?
physmem 0x4f0 8 0x4142434445464748
echo $?
/bin/memcontrol list
echo $?
/bin/memcontrol set -b 0x100000000 -l 0x200000 -o test uncacheable
echo $?
busyrange 0x100000000 0x200000
echo $?
pcibar 1234:1111 2 0x500
echo $?
hello one two
