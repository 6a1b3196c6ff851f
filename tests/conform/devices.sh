# Every device node and its mode, and who may open it.
id
ls -l /dev/mem
ls -l /dev/kmem
ls -l /dev/port
ls -l /dev/null
ls -l /dev/zero
ls -l /dev/full
hexdump -C -n 16 /dev/mem
echo $?
hexdump -C -n 16 /dev/kmem
echo $?
hexdump -C -n 1 /dev/port
echo $?
