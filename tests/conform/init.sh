#!/bin/busybox sh
# The Linux peer's /init (`cargo xtask conform`): mounts proc, creates the device nodes
# with the modes of this kernel's part 0, runs every /conform/*.run file (one command line
# each, already prefixed with `runas USER` by xtask), echoing each line after `# ` as this
# kernel's shell does, and powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /dev /tmp /sys
mount -t proc proc /proc
mount -t sysfs sysfs /sys
chmod 1777 /tmp
node() { mknod -m "$1" "/dev/$2" c "$3" "$4"; chown "$5" "/dev/$2"; }
node 660 mem 1 1 root:kmem
node 660 port 1 4 root:kmem
node 666 null 1 3 root:root
node 666 zero 1 5 root:root
node 666 full 1 7 root:root
echo "@@@ INIT"
for run in /conform/*.run; do
    name=${run#/conform/}
    name=${name%.run}
    echo "@@@ BEGIN $name"
    while IFS= read -r line; do
        echo "# $line"
        eval "$line" 2>&1
    done < "$run"
    echo "@@@ END $name"
done
echo "@@@ DONE"
poweroff -f
