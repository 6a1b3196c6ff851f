/* memrate [-m] FILE OFFSET LENGTH [BS]: how fast this kernel gives a program the bytes of
 * FILE in [OFFSET, OFFSET+LENGTH).
 *
 * Reads the range with read(2) in BS-byte blocks (64 KiB by default), from OFFSET again
 * each pass, until at least 100 ms have passed, and times it with
 * clock_gettime(CLOCK_MONOTONIC) inside the program: the figure is the kernel's, without
 * the cost of starting a program (which dominates a short `dd` run on Linux, where the
 * shell forks and execs it). With -m it maps the range instead (MAP_SHARED, read-only,
 * once) and reads it with 8-byte loads each pass: mmap plus touch.
 * Prints `BYTES bytes in NS ns: R MB/s` (MB = 10^6 bytes). The same binary runs on Linux
 * and on this kernel (`cargo xtask conform` compares them). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int fail(const char *what)
{
	printf("memrate: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	int use_mmap = argc > 1 && strcmp(argv[1], "-m") == 0;
	argv += use_mmap;
	argc -= use_mmap;
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: memrate [-m] FILE OFFSET LENGTH [BS]\n");
		return 2;
	}
	uint64_t offset = strtoull(argv[2], NULL, 0), length = strtoull(argv[3], NULL, 0);
	size_t bs = argc == 5 ? strtoul(argv[4], NULL, 0) : 65536;
	if (length == 0 || bs == 0 || bs > (16 << 20) || (use_mmap && (offset % 4096 || length % 8))) {
		fprintf(stderr, "memrate: LENGTH and BS must be > 0 (-m: OFFSET page-aligned, LENGTH a multiple of 8)\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0)
		return fail(argv[1]);
	uint64_t done = 0, start = now_ns(), elapsed = 0;
	volatile uint64_t sink = 0;
	if (use_mmap) {
		uint64_t t0 = now_ns();
		const volatile uint64_t *p = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, (off_t)offset);
		if (p == MAP_FAILED)
			return fail("mmap");
		start = t0;
		do {
			for (uint64_t i = 0; i < length / 8; i++)
				sink += p[i];
			done += length;
			elapsed = now_ns() - start;
		} while (elapsed < 100000000u);
		munmap((void *)p, length);
	} else {
		char *buf = malloc(bs);
		if (!buf)
			return fail("malloc");
		do {
			for (uint64_t at = 0; at < length;) {
				size_t want = length - at < bs ? (size_t)(length - at) : bs;
				ssize_t n = pread(fd, buf, want, (off_t)(offset + at));
				if (n < 0)
					return fail("read");
				if (n == 0)
					break;
				at += (uint64_t)n;
				done += (uint64_t)n;
			}
			elapsed = now_ns() - start;
		} while (elapsed < 100000000u);
		free(buf);
	}
	(void)sink;
	printf("%llu bytes in %llu ns: %.1f MB/s\n", (unsigned long long)done, (unsigned long long)elapsed,
	       (double)done * 1000.0 / (double)(elapsed ? elapsed : 1));
	return 0;
}
