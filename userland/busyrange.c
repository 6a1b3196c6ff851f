/* busyrange BASE LENGTH: MDF_BUSY from user space.
 *
 * BASE/LENGTH must be a memory range set with memcontrol. The program maps the range's
 * first page from /dev/mem, shows the range as MEMRANGE_GET reports it (busy while
 * mapped), tries to remove it (EBUSY while mapped), unmaps, shows it again and removes
 * it. Each step prints one line; any unexpected result exits 1. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memrange.h"

#define MAX_DESCRIPTORS 128

/* Prints the range's descriptor as "BASE/LEN flags", or "no such range". */
static int show(int fd, uint64_t base, uint64_t len)
{
	struct mem_range_desc descs[MAX_DESCRIPTORS];
	struct mem_range_op op = {.mo_desc = descs, .mo_arg = {MAX_DESCRIPTORS, 0}};
	if (ioctl(fd, MEMRANGE_GET, &op) != 0) {
		printf("MEMRANGE_GET: %s\n", strerror(errno));
		return -1;
	}
	for (int i = 0; i < op.mo_arg[0]; i++) {
		struct mem_range_desc *d = &descs[i];
		if (d->mr_base == base && d->mr_len == len && (d->mr_flags & MDF_ACTIVE)) {
			printf("%#llx/%#llx %.8s%s\n", (unsigned long long)base, (unsigned long long)len,
			       d->mr_owner, d->mr_flags & MDF_BUSY ? " busy" : "");
			return (d->mr_flags & MDF_BUSY) != 0;
		}
	}
	printf("%#llx/%#llx: no such range\n", (unsigned long long)base, (unsigned long long)len);
	return -1;
}

/* MEMRANGE_SET REMOVE of the range; prints and returns errno (0 on success). */
static int remove_range(int fd, uint64_t base, uint64_t len)
{
	struct mem_range_desc desc = {.mr_base = base, .mr_len = len};
	struct mem_range_op op = {.mo_desc = &desc, .mo_arg = {MEMRANGE_SET_REMOVE, 0}};
	int error = ioctl(fd, MEMRANGE_SET, &op) == 0 ? 0 : errno;
	printf("remove: %s\n", error ? strerror(error) : "done");
	return error;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: busyrange BASE LENGTH\n");
		return 2;
	}
	uint64_t base = strtoull(argv[1], NULL, 0), len = strtoull(argv[2], NULL, 0);
	int fd = open("/dev/mem", O_RDONLY | O_SYNC);
	if (fd < 0) {
		printf("busyrange: /dev/mem: %s\n", strerror(errno));
		return 1;
	}
	void *map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, (off_t)base);
	if (map == MAP_FAILED) {
		printf("busyrange: mmap: %s\n", strerror(errno));
		return 1;
	}
	printf("mapped %#llx\n", (unsigned long long)base);
	int ok = show(fd, base, len) == 1;
	ok &= remove_range(fd, base, len) == EBUSY;
	munmap(map, 4096);
	printf("unmapped\n");
	ok &= show(fd, base, len) == 0;
	ok &= remove_range(fd, base, len) == 0;
	close(fd);
	return ok ? 0 : 1;
}
