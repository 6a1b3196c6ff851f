/* msrcheck [-v]: every CPU's memory-type MSRs, read through /dev/cpu/N/msr by that CPU,
 * compared with CPU 0's.
 *
 * The MSRs are IA32_MTRR_DEF_TYPE, the variable MTRRs MTRRCAP.VCNT says there are, the
 * eleven fixed-range MTRRs and IA32_PAT (Intel SDM Vol. 3A, 11.11 and 11.12): the SDM wants
 * them alike on every processor. Prints one line per CPU (`cpu N: K MSRs as on cpu 0`, or
 * the first that differs) and exits 1 if any differs; -v prints every value as well. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_MSRS 48

static int read_msr(int fd, uint32_t index, uint64_t *value)
{
	return pread(fd, value, 8, index) == 8 ? 0 : -1;
}

/* The list of MSRs to compare, from CPU 0's MTRRCAP. */
static int msr_list(int fd, uint32_t *list)
{
	static const uint32_t fixed[] = {0x250, 0x258, 0x259, 0x268, 0x269, 0x26a,
					 0x26b, 0x26c, 0x26d, 0x26e, 0x26f};
	uint64_t cap;
	int n = 0;
	if (read_msr(fd, 0xfe, &cap) != 0)
		return -1;
	list[n++] = 0x2ff;
	for (unsigned i = 0; i < (cap & 0xff) && i < 16; i++) {
		list[n++] = 0x200 + 2 * i;
		list[n++] = 0x201 + 2 * i;
	}
	if (cap & (1 << 8))
		for (unsigned i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
			list[n++] = fixed[i];
	list[n++] = 0x277;
	return n;
}

int main(int argc, char **argv)
{
	int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
	uint32_t list[MAX_MSRS];
	uint64_t first[MAX_MSRS];
	int fd0 = open("/dev/cpu/0/msr", O_RDONLY);
	if (fd0 < 0) {
		printf("msrcheck: /dev/cpu/0/msr: %s\n", strerror(errno));
		return 1;
	}
	int n = msr_list(fd0, list);
	if (n < 0) {
		printf("msrcheck: cpu 0: cannot read MTRRCAP: %s\n", strerror(errno));
		return 1;
	}
	int differ = 0, cpus = 0;
	for (int cpu = 0; cpu < 64; cpu++) {
		char path[32];
		snprintf(path, sizeof path, "/dev/cpu/%d/msr", cpu);
		int fd = cpu == 0 ? fd0 : open(path, O_RDONLY);
		if (fd < 0) {
			if (errno == ENOENT || errno == ENXIO)
				continue;
			printf("msrcheck: %s: %s\n", path, strerror(errno));
			return 1;
		}
		cpus++;
		int same = 0;
		for (int i = 0; i < n; i++) {
			uint64_t value;
			if (read_msr(fd, list[i], &value) != 0) {
				printf("cpu %d: cannot read MSR %#x: %s\n", cpu, list[i], strerror(errno));
				return 1;
			}
			if (verbose)
				printf("cpu %d: %#x = %#llx\n", cpu, list[i], (unsigned long long)value);
			if (cpu == 0)
				first[i] = value;
			if (value == first[i]) {
				same++;
			} else if (!differ++ || verbose) {
				printf("cpu %d: MSR %#x is %#llx, cpu 0 has %#llx\n", cpu, list[i],
				       (unsigned long long)value, (unsigned long long)first[i]);
			}
		}
		if (same == n)
			printf("cpu %d: %d MSRs as on cpu 0\n", cpu, n);
		if (fd != fd0)
			close(fd);
	}
	close(fd0);
	printf("%d CPUs, %s\n", cpus, differ ? "NOT alike" : "alike");
	return differ ? 1 : 0;
}
