# users: root
# Benchmarks, read by `cargo xtask conform` into its side-by-side table. The rates come
# from userland/memrate, the same binary on both kernels, timing read(2) of the range
# inside the program (a whole `dd` run would mostly time the program's start on Linux):
# /dev/mem RAM 0-0x9ffff, the VGA window 0xa0000-0xbffff, the ROM 0xc0000-0xfffff, the
# whole first MiB, /dev/zero for scale, then mmap + touch of device memory (the HPET).
# The system-call round trip is userland/syscalls; `time` lines measure start to exit.
memrate /dev/mem 0 0xa0000
memrate /dev/mem 0xa0000 0x20000
memrate /dev/mem 0xc0000 0x40000
memrate /dev/mem 0 0x100000
memrate /dev/zero 0 0x100000
memrate -m /dev/mem 0xfed00000 4096
syscalls 200000
time /bin/true
# busybox dd over the same ranges, whole runs (start-up included: on Linux the mean of 20
# runs from the monotonic clock, here the shell's `time`), bs=64K as in the README.
time busybox dd if=/dev/mem of=/dev/null bs=65536 count=10
time busybox dd if=/dev/mem of=/dev/null bs=65536 skip=10 count=2
time busybox dd if=/dev/mem of=/dev/null bs=65536 skip=12 count=4
time busybox dd if=/dev/mem of=/dev/null bs=65536 count=16
