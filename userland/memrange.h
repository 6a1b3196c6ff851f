/* FreeBSD's memory-range ioctls (sys/memrange.h): the flags, `struct mem_range_desc`,
 * `struct mem_range_op` (whose mo_desc is a user pointer inside a user struct) and the
 * ioctl numbers, shared by memcontrol.c and busyrange.c. */
#ifndef DEVMEM_MEMRANGE_H
#define DEVMEM_MEMRANGE_H

#include <stdint.h>

#define MDF_UNCACHEABLE (1 << 0)
#define MDF_WRITECOMBINE (1 << 1)
#define MDF_WRITETHROUGH (1 << 2)
#define MDF_WRITEBACK (1 << 3)
#define MDF_WRITEPROTECT (1 << 4)
#define MDF_UNKNOWN (1 << 5)
#define MDF_FIXBASE (1 << 24)
#define MDF_FIXLEN (1 << 25)
#define MDF_FIRMWARE (1 << 26)
#define MDF_ACTIVE (1 << 27)
#define MDF_BOGUS (1 << 28)
#define MDF_FIXACTIVE (1 << 29)
#define MDF_BUSY (1 << 30)
#define MDF_FORCE (1 << 31)

#define MEMRANGE_SET_UPDATE 0
#define MEMRANGE_SET_REMOVE 1

struct mem_range_desc {
	uint64_t mr_base;
	uint64_t mr_len;
	int mr_flags;
	char mr_owner[8];
};

struct mem_range_op {
	struct mem_range_desc *mo_desc;
	int mo_arg[2];
};

_Static_assert(sizeof(struct mem_range_desc) == 32, "FreeBSD's layout");
_Static_assert(sizeof(struct mem_range_op) == 16, "FreeBSD's layout");

/* _IOWR('m', 50, struct mem_range_op) and _IOW('m', 51, ...) with BSD's encoding. */
#define MEMRANGE_GET 0xC0106D32UL
#define MEMRANGE_SET 0x80106D33UL

#endif
