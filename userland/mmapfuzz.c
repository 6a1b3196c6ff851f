/* mmapfuzz SEED OPERATIONS: random mmap, munmap, mprotect and memrange ioctl sequences
 * from ring 3, each result checked.
 *
 * Mappings come from anonymous memory, MAP_PRIVATE of /dev/zero and MAP_SHARED of
 * /dev/mem (low RAM, the BIOS ROM, the HPET, a hole above RAM, refused RAM), with edge
 * lengths, offsets, protections and MAP_FIXED addresses. Every failure must carry an
 * errno the call may return; anonymous memory must keep what was written to it; /dev/mem
 * mappings must read what pread(2) of /dev/mem reads, and a store through a writable
 * mapping of 0x4f0 (the BIOS's scratch bytes) must be what pread reads back. MEMRANGE_GET
 * and MEMRANGE_SET run with good and bad pointers on a few ranges above RAM. At the end
 * everything is unmapped and every range the program set is removed, so the kernel can
 * check that frames, heap and the memory-type registry are back where they were.
 * Prints one summary line; exits 1 at the first unexpected result. */
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

#define SLOTS 48
#define RANGE_BASE 0x100000000ULL
#define RANGE_LEN 0x200000ULL
#define RANGES 4

enum kind { ANON, ZERO, MEM };

struct mapping {
	uint8_t *addr;
	uint64_t len;
	int prot;
	enum kind kind;
	uint64_t phys; /* MEM: the physical address of addr */
	uint8_t seed;  /* ANON/ZERO written with PROT_WRITE: byte i holds seed + i */
	int written;
};

static struct mapping slots[SLOTS];
/* Every mapping ever made, to unmap at the end what the slots forgot. */
static struct {
	uint8_t *addr;
	uint64_t len;
} *made;
static size_t made_count, made_capacity;
static uint64_t state;
static unsigned long long operation, successes;
static int mem_fd, mem_sync_fd, zero_fd;

static uint64_t next(void)
{
	/* xorshift64* */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545F4914F6CDD1DULL;
}

static uint64_t pick(const uint64_t *items, size_t n)
{
	return items[next() % n];
}

static int fail(const char *call, const char *what)
{
	printf("mmapfuzz: operation %llu: %s: %s (errno %d: %s)\n", operation, call, what, errno,
	       strerror(errno));
	exit(1);
}

static void expect_errno(const char *call, const int *allowed, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (errno == allowed[i])
			return;
	fail(call, "unexpected errno");
}

#define EXPECT(call, ...)                                                                          \
	do {                                                                                       \
		static const int allowed_[] = {__VA_ARGS__};                                       \
		expect_errno(call, allowed_, sizeof allowed_ / sizeof allowed_[0]);                \
	} while (0)

static int free_slot(void)
{
	for (int i = 0; i < SLOTS; i++)
		if (!slots[i].addr)
			return i;
	return -1;
}

/* Drops the bookkeeping of every page of [addr, addr+len): slots fully inside go, slots
 * partly inside are forgotten too (their pages are no longer known to be whole). */
static void forget(uint8_t *addr, uint64_t len)
{
	for (int i = 0; i < SLOTS; i++) {
		struct mapping *m = &slots[i];
		if (m->addr && m->addr < addr + len && addr < m->addr + m->len)
			m->addr = NULL;
	}
}

static void do_mmap(void)
{
	static const uint64_t lengths[] = {1, 4096, 4097, 8192, 3 * 4096 + 1, 65536, 1 << 20, 0,
					   1ULL << 40, UINT64_MAX - 4095};
	static const uint64_t phys[] = {0, 0xf0000, 0xfe000, 0xfed00000, RANGE_BASE, RANGE_BASE + 0x1ff000,
					0x200000, 1ULL << 40, 0x4f1};
	int slot = free_slot();
	if (slot < 0)
		return;
	uint64_t len = next() % 8 ? pick(lengths, 7) : pick(lengths, 10);
	int prot = (int)(next() % 4) & (PROT_READ | PROT_WRITE);
	if (next() % 16 == 0)
		prot |= 0x40; /* an unknown bit */
	int flags, fd = -1;
	uint64_t offset = 0;
	enum kind kind = (enum kind)(next() % 3);
	switch (kind) {
	case ANON:
		flags = MAP_PRIVATE | MAP_ANONYMOUS;
		break;
	case ZERO:
		flags = MAP_PRIVATE;
		fd = zero_fd;
		break;
	default:
		flags = next() % 16 ? MAP_SHARED : MAP_PRIVATE;
		fd = next() % 2 ? mem_fd : mem_sync_fd;
		offset = pick(phys, sizeof phys / sizeof phys[0]);
		break;
	}
	if (next() % 32 == 0)
		flags = (int)(next() & 0x1f);
	uint8_t *hint = NULL;
	if (next() % 8 == 0) {
		/* MAP_FIXED over one of our live mappings (never past its end: the C library's
		 * own memory may be next to it), or at a free, odd or kernel address. */
		static const uint64_t odd[] = {0x1000, 0x200000000, 0xffff800000000000, 0x12345};
		int target = (int)(next() % SLOTS);
		if (slots[target].addr) {
			hint = slots[target].addr;
			if (len > slots[target].len)
				len = slots[target].len;
		} else {
			hint = (uint8_t *)pick(odd, 4);
		}
		flags |= MAP_FIXED;
	}
	void *p = mmap(hint, len, prot, flags, fd, (off_t)offset);
	if (p == MAP_FAILED) {
		EXPECT("mmap", EINVAL, ENOMEM, EPERM, EAGAIN, EACCES, ENODEV, EEXIST, EOVERFLOW, EBADF);
		/* A MAP_FIXED that fails may have unmapped what was there (as on Linux). */
		if (flags & MAP_FIXED)
			forget(hint, len < (1ULL << 40) ? (len + 4095) & ~4095ULL : 1ULL << 40);
		return;
	}
	successes++;
	if (len == 0 || (uint64_t)p % 4096)
		fail("mmap", "succeeded with an impossible request");
	uint64_t rounded = (len + 4095) & ~4095ULL;
	if (flags & MAP_FIXED)
		forget(p, rounded);
	if (made_count == made_capacity) {
		made_capacity = made_capacity ? 2 * made_capacity : 1024;
		made = realloc(made, made_capacity * sizeof *made);
		if (!made)
			fail("realloc", "out of memory");
	}
	made[made_count].addr = p;
	made[made_count++].len = rounded;
	struct mapping *m = &slots[slot];
	*m = (struct mapping){.addr = p, .len = rounded, .prot = prot, .kind = kind, .phys = offset};
	if ((kind == ANON || kind == ZERO) && (prot & PROT_READ)) {
		for (uint64_t i = 0; i < rounded; i += 4096)
			if (m->addr[i] != 0)
				fail("mmap", "new private memory is not zero");
	}
}

static void do_munmap(void)
{
	int i = (int)(next() % SLOTS);
	uint8_t *addr = slots[i].addr;
	uint64_t len = slots[i].len;
	if (!addr || next() % 8 == 0) {
		static const uint64_t odd[] = {0, 0x1001, 0xffff800000000000, 0x200000000};
		addr = (uint8_t *)pick(odd, 4);
		len = next() % 3 ? 4096 : 0;
	} else if (next() % 4 == 0 && len > 4096) {
		len = 4096 * (1 + next() % (len / 4096 - 1)); /* a partial munmap */
	}
	if (munmap(addr, len) != 0) {
		EXPECT("munmap", EINVAL);
		return;
	}
	successes++;
	forget(addr, (len + 4095) & ~4095ULL);
}

static void do_mprotect(void)
{
	int i = (int)(next() % SLOTS);
	struct mapping *m = &slots[i];
	uint8_t *addr = m->addr ? m->addr : (uint8_t *)0x1000;
	uint64_t len = m->addr ? m->len : 4096;
	int prot = (int)(next() % 4) & (PROT_READ | PROT_WRITE);
	if (mprotect(addr, len, prot) != 0) {
		EXPECT("mprotect", EINVAL, ENOMEM, EACCES);
		return;
	}
	successes++;
	/* Every known mapping in the range has the new protection; one only partly in it
	 * is forgotten (its pages now differ). */
	for (int k = 0; k < SLOTS; k++) {
		struct mapping *other = &slots[k];
		if (!other->addr || other->addr >= addr + len || addr >= other->addr + other->len)
			continue;
		if (other->addr >= addr && other->addr + other->len <= addr + len)
			other->prot = prot;
		else
			other->addr = NULL;
	}
}

/* Uses a live mapping: writes and checks private memory, compares /dev/mem with pread. */
static void do_touch(void)
{
	struct mapping *m = &slots[next() % SLOTS];
	if (!m->addr || !(m->prot & PROT_READ))
		return;
	if (m->kind != MEM) {
		if (m->written)
			for (uint64_t i = 0; i < m->len; i += 509)
				if (m->addr[i] != (uint8_t)(m->seed + i))
					fail("touch", "private memory lost a write");
		if (m->prot & PROT_WRITE) {
			m->seed = (uint8_t)next();
			for (uint64_t i = 0; i < m->len; i += 509)
				m->addr[i] = (uint8_t)(m->seed + i);
			m->written = 1;
		}
		return;
	}
	/* The HPET's counter moves and its registers want 32-bit reads: leave it alone. */
	if (m->phys == 0xfed00000)
		return;
	uint64_t at = (next() % (m->len / 4)) * 4;
	uint32_t mapped = *(volatile uint32_t *)(m->addr + at), read_back;
	if (m->phys == 0 && (m->prot & PROT_WRITE)) {
		at = 0x4f0 + (next() % 4) * 4;
		mapped = (uint32_t)next();
		*(volatile uint32_t *)(m->addr + at) = mapped;
	}
	if (pread(mem_fd, &read_back, 4, (off_t)(m->phys + at)) != 4)
		fail("pread", "/dev/mem did not read what it mapped");
	if (read_back != mapped)
		fail("touch", "the mapping and pread(2) of /dev/mem disagree");
}

static void do_ioctl(void)
{
	static struct mem_range_desc descs[128];
	static const uint64_t bad[] = {0, 8, 0xffff800000000000, 0x7ffffffff000};
	static const int types[] = {MDF_UNCACHEABLE, MDF_WRITECOMBINE, MDF_WRITETHROUGH, MDF_WRITEBACK,
				    MDF_WRITEPROTECT, 0, MDF_UNCACHEABLE | MDF_WRITEBACK};
	struct mem_range_op op = {.mo_desc = descs, .mo_arg = {(int)(next() % 130) - 1, 0}};
	if (next() % 8 == 0)
		op.mo_desc = (struct mem_range_desc *)pick(bad, 4);
	if (next() % 2) {
		void *arg = next() % 16 ? (void *)&op : (void *)pick(bad, 4);
		if (ioctl(mem_fd, MEMRANGE_GET, arg) != 0) {
			EXPECT("MEMRANGE_GET", EFAULT, EBADF);
			return;
		}
		successes++;
		return;
	}
	struct mem_range_desc desc = {.mr_base = RANGE_BASE + (next() % RANGES) * RANGE_LEN,
				      .mr_len = RANGE_LEN,
				      .mr_flags = types[next() % 7]};
	memcpy(desc.mr_owner, "fuzz", 5);
	if (next() % 8 == 0)
		desc.mr_len = next() % 2 ? 0x3000 : 0;
	if (op.mo_desc == descs)
		op.mo_desc = &desc;
	op.mo_arg[0] = (int)(next() % 3); /* UPDATE, REMOVE, or an unknown operation */
	if (ioctl(mem_fd, MEMRANGE_SET, &op) != 0) {
		EXPECT("MEMRANGE_SET", EFAULT, EINVAL, EBUSY, ENOENT, EPERM, EACCES, ENOSPC, EOPNOTSUPP, EBADF);
		return;
	}
	successes++;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mmapfuzz SEED OPERATIONS\n");
		return 2;
	}
	unsigned long long seed = strtoull(argv[1], NULL, 0), operations = strtoull(argv[2], NULL, 0);
	state = seed | 1;
	/* Root opens /dev/mem read-write; others get what their credentials allow. */
	mem_fd = open("/dev/mem", O_RDWR);
	if (mem_fd < 0)
		mem_fd = open("/dev/mem", O_RDONLY);
	mem_sync_fd = open("/dev/mem", O_RDONLY | O_SYNC);
	/* A device this user may not open stays -1: its mmaps are then EBADF. */
	zero_fd = open("/dev/zero", O_RDONLY);
	for (operation = 0; operation < operations; operation++) {
		switch (next() % 10) {
		case 0: case 1: case 2: do_mmap(); break;
		case 3: case 4: do_munmap(); break;
		case 5: do_mprotect(); break;
		case 6: case 7: do_touch(); break;
		default: do_ioctl(); break;
		}
	}
	for (size_t i = 0; i < made_count; i++)
		if (munmap(made[i].addr, made[i].len) != 0)
			fail("munmap", "a mapping made earlier");
	free(made);
	for (int k = 0; k < RANGES; k++) {
		struct mem_range_desc desc = {.mr_base = RANGE_BASE + k * RANGE_LEN, .mr_len = RANGE_LEN};
		struct mem_range_op op = {.mo_desc = &desc, .mo_arg = {MEMRANGE_SET_REMOVE, 0}};
		if (ioctl(mem_fd, MEMRANGE_SET, &op) != 0 && errno != ENOENT && errno != EPERM &&
		    errno != EOPNOTSUPP && errno != EBADF)
			fail("MEMRANGE_SET", "removing a range at the end");
	}
	printf("mmapfuzz: seed %llu: %llu operations, %llu succeeded\n", seed, operations, successes);
	return 0;
}
