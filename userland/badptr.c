/* badptr: passes kernel addresses and unmapped addresses to read, write and ioctl and
 * prints what each call returned. Every call must fail with EFAULT, except a write of
 * an unmapped lower-half buffer to /dev/null, which succeeds as on Linux (the address
 * passes access_ok and /dev/null never reads it). Exits 0 if all did, 1 otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

static const unsigned long bad[] = {
	0xffff800000000000UL, /* the kernel's direct map */
	0xffffffff80000000UL, /* the kernel image */
	0x0000000000001000UL, /* unmapped, low */
	0x00007ffffffff000UL, /* the last page of the lower half */
	0x0000800000000000UL, /* non-canonical */
};

static int failures;

static void check(const char *what, unsigned long addr, long ret)
{
	int lower_half = addr < 0x0000800000000000UL;
	int ok = ret == -EFAULT || (ret == 0 && lower_half && strcmp(what, "write /dev/null") == 0);
	printf("%-26s %#018lx: %s\n", what, addr, ret < 0 ? strerror((int)-ret) : "succeeded");
	failures += !ok;
}

int main(void)
{
	int zero = open("/dev/zero", O_RDONLY);
	int null = open("/dev/null", O_WRONLY);
	int mem = open("/dev/mem", O_RDONLY);
	if (zero < 0 || null < 0) {
		perror("badptr: open");
		return 2;
	}
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned long a = bad[i];
		check("read /dev/zero", a, syscall(SYS_read, zero, a, 16) < 0 ? -errno : 0);
		long w = syscall(SYS_write, null, a, 16);
		check("write /dev/null", a, w < 0 ? -errno : 0);
		if (mem >= 0) {
			check("pread /dev/mem 0x400", a, syscall(SYS_pread64, mem, a, 16, 0x400) < 0 ? -errno : 0);
			/* MEMRANGE_GET with its struct at a bad address. */
			check("ioctl /dev/mem GET", a, syscall(SYS_ioctl, mem, 0xC0106D32UL, a) < 0 ? -errno : 0);
		}
		check("ioctl /dev/null TCGETS", a, syscall(SYS_ioctl, 1, 0x5401, a) < 0 ? -errno : 0);
	}
	printf("%s\n", failures ? "FAIL: some calls did not fail as Linux's do" : "every call failed as on Linux");
	return failures != 0;
}
