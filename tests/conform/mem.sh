# /dev/mem at the interesting offsets: low-MiB RAM (the BIOS data area), the VGA window,
# the ROM, STRICT-refused RAM, past the end of RAM, past 2^MAXPHYADDR, huge offsets.
hexdump -C -s 0x400 -n 32 /dev/mem
hexdump -C -s 0x7c00 -n 16 /dev/mem
hexdump -C -s 0xa0000 -n 16 /dev/mem
hexdump -C -s 0xf0000 -n 16 /dev/mem
hexdump -C -s 0xfffe0 -n 16 /dev/mem
hexdump -C -s 0x200000 -n 16 /dev/mem
echo $?
hexdump -C -s 0x20000000 -n 16 /dev/mem
echo $?
hexdump -C -s 0x10000000000000 -n 16 /dev/mem
echo $?
hexdump -C -s 0x7ffffffffffff000 -n 16 /dev/mem
echo $?
dd if=/dev/mem of=/dev/null bs=4096 count=256
dd if=/dev/mem of=/dev/null bs=4096 skip=512 count=1
echo $?
dd if=/dev/zero of=/dev/mem bs=1 seek=1264 count=1
echo $?
devmem 0x400 16
devmem 0xa0000 8
devmem 0xf0000 32
devmem 0x200000
echo $?
devmem 0xfed00000 32
echo $?
devmem 0xfee00030 32
echo $?
