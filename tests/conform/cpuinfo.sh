# /proc/cpuinfo: the fields that come from CPUID, as Linux prints them.
# users: root nobody
busybox grep -E '^(processor|vendor_id|cpu family|model|model name|stepping|apicid|initial apicid|cpuid level)' /proc/cpuinfo
busybox grep -E '^flags' /proc/cpuinfo
