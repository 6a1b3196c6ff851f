/* memcontrol list [-a] [-o owner] | set -b base -l len [-o owner] attr... |
 *            clear -o owner | clear -b base -l len
 *
 * FreeBSD's memcontrol(8) as a program: the MEMRANGE_GET and MEMRANGE_SET ioctls on
 * /dev/mem with FreeBSD's `struct mem_range_desc` and `struct mem_range_op`
 * (sys/memrange.h), whose mo_desc is a user pointer inside a user struct. It prints what
 * the shell's built-in memcontrol prints, and fails with the same errnos. Run it by path
 * (/bin/memcontrol) to get it rather than the built-in. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "memrange.h"

static const struct {
	const char *name;
	int flag;
	int settable;
} attrs[] = {
	{"uncacheable", MDF_UNCACHEABLE, 1}, {"write-combine", MDF_WRITECOMBINE, 1},
	{"write-through", MDF_WRITETHROUGH, 1}, {"write-back", MDF_WRITEBACK, 1},
	{"write-protect", MDF_WRITEPROTECT, 1}, {"force", MDF_FORCE, 1},
	{"unknown", MDF_UNKNOWN, 0}, {"fixed-base", MDF_FIXBASE, 0},
	{"fixed-length", MDF_FIXLEN, 0}, {"set-by-firmware", MDF_FIRMWARE, 0},
	{"active", MDF_ACTIVE, 1}, {"bogus", MDF_BOGUS, 0},
	{"busy", MDF_BUSY, 0},
};
#define NATTRS (sizeof attrs / sizeof attrs[0])

static int fail(const char *message)
{
	printf("memcontrol: %s: %s\n", message, strerror(errno));
	return 1;
}

static int usage(void)
{
	printf("usage: memcontrol list [-a] [-o owner] | set -b base -l len [-o owner] attr... | clear -o owner | clear -b base -l len\n");
	return 1;
}

static struct mem_range_desc *get_all(int fd, int *count)
{
	struct mem_range_op op = {0};
	if (ioctl(fd, MEMRANGE_GET, &op) < 0) {
		fail("can't size range descriptor array");
		return NULL;
	}
	*count = op.mo_arg[0];
	struct mem_range_desc *descs = calloc(*count ? *count : 1, sizeof *descs);
	op.mo_desc = descs;
	if (ioctl(fd, MEMRANGE_GET, &op) < 0) {
		fail("can't fetch range descriptor array");
		return NULL;
	}
	return descs;
}

static int list(int fd, int all, const char *owner)
{
	int count;
	struct mem_range_desc *descs = get_all(fd, &count);
	if (!descs)
		return 1;
	for (int i = 0; i < count; i++) {
		struct mem_range_desc *d = &descs[i];
		if (!all && !(d->mr_flags & MDF_ACTIVE))
			continue;
		if (owner && strncmp(d->mr_owner, owner, 8) != 0)
			continue;
		printf("0x%llx/0x%llx %.8s ", (unsigned long long)d->mr_base, (unsigned long long)d->mr_len,
		       d->mr_owner[0] ? d->mr_owner : "-");
		for (unsigned a = 0; a < NATTRS; a++)
			if (d->mr_flags & attrs[a].flag)
				printf("%s ", attrs[a].name);
		printf("\n");
	}
	free(descs);
	return 0;
}

static int set(int fd, struct mem_range_desc *desc, int op_arg)
{
	struct mem_range_op op = {.mo_desc = desc, .mo_arg = {op_arg, 0}};
	return ioctl(fd, MEMRANGE_SET, &op);
}

static int parse_u64(const char *text, uint64_t *value)
{
	char *end;
	errno = 0;
	*value = strtoull(text, &end, 0);
	return errno == 0 && *text && !*end;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *command = argv[1];
	int all = 0;
	uint64_t base = 0, len = 0;
	const char *owner = NULL;
	int i = 2;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *opt = argv[i];
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(opt, "-a") == 0) {
			all = 1;
		} else if (strcmp(opt, "-b") == 0 && value && parse_u64(value, &base)) {
			i++;
		} else if (strcmp(opt, "-l") == 0 && value && parse_u64(value, &len)) {
			i++;
		} else if (strcmp(opt, "-o") == 0 && value && strlen(value) < 8) {
			owner = value;
			i++;
		} else {
			return usage();
		}
	}
	int fd = open("/dev/mem", O_RDONLY);
	if (fd < 0)
		return fail("can't open /dev/mem");
	if (strcmp(command, "list") == 0)
		return list(fd, all, owner);
	if (strcmp(command, "set") == 0) {
		struct mem_range_desc desc = {.mr_base = base, .mr_len = len};
		strncpy(desc.mr_owner, owner ? owner : "user", sizeof desc.mr_owner - 1);
		if (len == 0 || i == argc)
			return usage();
		for (; i < argc; i++) {
			unsigned a;
			for (a = 0; a < NATTRS; a++)
				if (attrs[a].settable && strcmp(argv[i], attrs[a].name) == 0)
					break;
			if (a == NATTRS)
				return usage();
			desc.mr_flags |= attrs[a].flag;
		}
		if (set(fd, &desc, MEMRANGE_SET_UPDATE) < 0)
			return fail("can't set range");
		return 0;
	}
	if (strcmp(command, "clear") == 0) {
		if (owner && len == 0) {
			int count;
			struct mem_range_desc *descs = get_all(fd, &count);
			if (!descs)
				return 1;
			for (int d = 0; d < count; d++) {
				if (strncmp(descs[d].mr_owner, owner, 8) == 0 && (descs[d].mr_flags & MDF_ACTIVE) &&
				    !(descs[d].mr_flags & MDF_FIXACTIVE) && set(fd, &descs[d], MEMRANGE_SET_REMOVE) < 0)
					printf("memcontrol: couldn't clear range owned by '%s': %s\n", owner, strerror(errno));
			}
			return 0;
		}
		if (owner || len == 0)
			return usage();
		struct mem_range_desc desc = {.mr_base = base, .mr_len = len};
		if (set(fd, &desc, MEMRANGE_SET_REMOVE) < 0)
			return fail("couldn't clear range");
		return 0;
	}
	return usage();
}
