/* physmem [-l] [-r] ADDRESS LENGTH [VALUE]: the classic /dev/mem recipe, with 64-bit
 * addresses.
 *
 * Open /dev/mem with O_RDWR|O_SYNC (O_RDONLY|O_SYNC to only read), page-align the
 * address, mmap the pages that hold [ADDRESS, ADDRESS+LENGTH) with MAP_SHARED, use the
 * pointer, munmap. Without VALUE it prints the bytes as `hexdump -C` does; with VALUE it
 * stores VALUE there with one access of LENGTH bytes (1, 2, 4 or 8), reads it back and
 * prints it. Errors are reported as `physmem: WHAT: strerror` with status 1.
 *
 * -l  while the mapping lives, print /proc/pat_memtype_list (the kernel lists the mapping
 *     with its memory type: uncached-minus for an O_SYNC mapping of device memory).
 * -r  map read-only even to store VALUE: the store must end the program with SIGSEGV. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "physmem: %s: %s\n", what, strerror(errno));
	return 1;
}

static int parse(const char *text, uint64_t *value)
{
	char *end;
	errno = 0;
	*value = strtoull(text, &end, 0);
	return errno == 0 && *text && !*end;
}

/* Copies `len` bytes from the mapping with the widest naturally aligned loads that fit
 * (8, 4, 2, 1 bytes): device registers such as the HPET's answer only 32- and 64-bit
 * reads, as the kernel's own /dev/mem reads do it. */
static void copy_in(uint8_t *out, const volatile uint8_t *p, uint64_t address, uint64_t len)
{
	uint64_t i = 0;
	while (i < len) {
		uint64_t a = address + i, left = len - i;
		if (a % 8 == 0 && left >= 8) {
			uint64_t v = *(const volatile uint64_t *)(p + i);
			memcpy(out + i, &v, 8);
			i += 8;
		} else if (a % 4 == 0 && left >= 4) {
			uint32_t v = *(const volatile uint32_t *)(p + i);
			memcpy(out + i, &v, 4);
			i += 4;
		} else if (a % 2 == 0 && left >= 2) {
			uint16_t v = *(const volatile uint16_t *)(p + i);
			memcpy(out + i, &v, 2);
			i += 2;
		} else {
			out[i] = p[i];
			i += 1;
		}
	}
}

/* hexdump -C of `len` bytes that are at physical address `base`. */
static void dump(const volatile uint8_t *p, uint64_t base, uint64_t len)
{
	for (uint64_t line = 0; line < len; line += 16) {
		uint8_t bytes[16];
		uint64_t n = len - line < 16 ? len - line : 16;
		copy_in(bytes, p + line, base + line, n);
		printf("%08llx ", (unsigned long long)(base + line));
		for (uint64_t i = 0; i < 16; i++) {
			if (i == 8)
				printf(" ");
			if (i < n)
				printf(" %02x", bytes[i]);
			else
				printf("   ");
		}
		printf("  |");
		for (uint64_t i = 0; i < n; i++)
			putchar(bytes[i] >= 0x20 && bytes[i] < 0x7f ? bytes[i] : '.');
		printf("|\n");
	}
	printf("%08llx\n", (unsigned long long)(base + len));
}

/* Prints /proc/pat_memtype_list as it is now. */
static int list_memtypes(void)
{
	char text[4096];
	int fd = open("/proc/pat_memtype_list", O_RDONLY);
	if (fd < 0)
		return fail("/proc/pat_memtype_list");
	ssize_t n;
	while ((n = read(fd, text, sizeof text)) > 0)
		fwrite(text, 1, (size_t)n, stdout);
	close(fd);
	return n < 0 ? fail("/proc/pat_memtype_list") : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: physmem [-l] [-r] ADDRESS LENGTH [VALUE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	uint64_t address, length, value = 0;
	int list = 0, read_only_store = 0, opt;
	while ((opt = getopt(argc, argv, "lr")) != -1) {
		if (opt == 'l')
			list = 1;
		else if (opt == 'r')
			read_only_store = 1;
		else
			return usage();
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (argc < 3 || argc > 4 || !parse(argv[1], &address) || !parse(argv[2], &length) ||
	    (argc == 4 && !parse(argv[3], &value)) || length == 0)
		return usage();
	int writing = argc == 4;
	if (writing && length != 1 && length != 2 && length != 4 && length != 8) {
		fprintf(stderr, "physmem: a write is one access of 1, 2, 4 or 8 bytes\n");
		return 2;
	}
	int map_writable = writing && !read_only_store;
	int fd = open("/dev/mem", (map_writable ? O_RDWR : O_RDONLY) | O_SYNC);
	if (fd < 0)
		return fail("/dev/mem");
	long page = sysconf(_SC_PAGESIZE);
	uint64_t base = address & ~(uint64_t)(page - 1);
	uint64_t span = address - base + length;
	int prot = PROT_READ | (map_writable ? PROT_WRITE : 0);
	void *map = mmap(NULL, span, prot, MAP_SHARED, fd, (off_t)base);
	if (map == MAP_FAILED)
		return fail("mmap");
	if (list && list_memtypes() != 0)
		return 1;
	volatile uint8_t *p = (volatile uint8_t *)map + (address - base);
	if (writing) {
		if (read_only_store) {
			printf("storing through a read-only mapping\n");
			fflush(stdout);
		}
		switch (length) {
		case 1: *(volatile uint8_t *)p = (uint8_t)value; value = *(volatile uint8_t *)p; break;
		case 2: *(volatile uint16_t *)p = (uint16_t)value; value = *(volatile uint16_t *)p; break;
		case 4: *(volatile uint32_t *)p = (uint32_t)value; value = *(volatile uint32_t *)p; break;
		default: *(volatile uint64_t *)p = value; value = *(volatile uint64_t *)p; break;
		}
		printf("%#llx: wrote and read back %#llx\n", (unsigned long long)address, (unsigned long long)value);
	} else {
		dump(p, address, length);
	}
	if (munmap(map, span) != 0)
		return fail("munmap");
	close(fd);
	return 0;
}
