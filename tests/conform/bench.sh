# users: root
# Benchmarks (`cargo xtask bench --vs-linux` reads the timings): /dev/mem reads by range,
# RAM 0-0x9ffff, the VGA window 0xa0000-0xbffff, the ROM 0xc0000-0xfffff, the whole
# first MiB; /dev/zero for scale; a zero-length dd for the cost of starting a command;
# start-to-exit of a trivial static program.
dd if=/dev/mem of=/dev/null bs=4096 count=0
dd if=/dev/mem of=/dev/null bs=4096 count=160
dd if=/dev/mem of=/dev/null bs=4096 skip=160 count=32
dd if=/dev/mem of=/dev/null bs=4096 skip=192 count=64
dd if=/dev/mem of=/dev/null bs=4096 count=256
dd if=/dev/zero of=/dev/null bs=4096 count=256
busybox true
