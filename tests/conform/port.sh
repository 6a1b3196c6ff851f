# /dev/port: reads, writes and seeks, the end of the port space.
inb 0x3fd
echo $?
outb 0x80 0x12
echo $?
hexdump -C -s 0x3f9 -n 4 /dev/port
echo $?
hexdump -C -s 0xfffe -n 4 /dev/port
echo $?
hexdump -C -s 0x10000 -n 4 /dev/port
echo $?
