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
now() { sed -n 's/^now at \([0-9]*\) nsecs$/\1/p' /proc/timer_list; }
echo "@@@ INIT"
for run in /conform/*.run; do
    name=${run#/conform/}
    name=${name%.run}
    echo "@@@ BEGIN $name"
    status=0
    while IFS= read -r line; do
        echo "# $line"
        # `echo $?` must see the previous line's status, not the echo's above.
        (exit $status)
        case $name in
        *-bench.*)
            # The benchmark scenario. `time COMMAND`: the mean wall time of 20 runs, from
            # the monotonic clock (busybox's time prints hundredths of a second, and its
            # date has no %N); other lines measure themselves.
            case $line in
            "time "*)
                cmd=${line#time }
                eval "$cmd" 2>&1
                status=$?
                t0=$(now)
                for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
                    eval "$cmd" >/dev/null 2>&1
                done
                t1=$(now)
                echo "@@@ TIME $(((t1 - t0) / 20))"
                ;;
            *)
                eval "$line" 2>&1
                status=$?
                ;;
            esac
            ;;
        *)
            eval "$line" 2>&1
            status=$?
            ;;
        esac
    done < "$run"
    echo "@@@ END $name"
done
echo "@@@ DONE"
poweroff -f
