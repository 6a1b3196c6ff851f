# /proc/mtrr read and write (Linux's syntax), /proc/iomem.
cat /proc/mtrr
echo $?
cat /proc/iomem
echo base=0x100000000 size=0x1000000 type=write-combining > /proc/mtrr
echo $?
cat /proc/mtrr
echo disable=1 > /proc/mtrr
echo $?
cat /proc/mtrr
echo base=0x1001 size=0x3000 type=write-back > /proc/mtrr
echo $?
