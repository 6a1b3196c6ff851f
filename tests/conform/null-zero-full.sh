# /dev/null, /dev/zero, /dev/full: reads, writes, seeks.
hexdump -C -n 32 /dev/zero
hexdump -C -s 0x100000 -n 16 /dev/zero
hexdump -C -n 16 /dev/full
cat /dev/null
echo $?
dd if=/dev/zero of=/dev/null bs=4096 count=16
dd if=/dev/zero of=/dev/full bs=512 count=1
echo $?
dd if=/dev/null of=/dev/full bs=512 count=1
echo $?
