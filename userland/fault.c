/* fault null|ud2|div0|kernel: ends with the fault named, so the kernel's reporting
 * can be seen (Segmentation fault 139, Illegal instruction 132, Floating point
 * exception 136). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fault null|ud2|div0|kernel\n");
		return 2;
	}
	if (strcmp(argv[1], "null") == 0)
		return *(volatile int *)0;
	if (strcmp(argv[1], "kernel") == 0)
		return *(volatile int *)0xffff800000000000UL;
	if (strcmp(argv[1], "ud2") == 0)
		__asm__ volatile("ud2");
	if (strcmp(argv[1], "div0") == 0) {
		/* In assembly: a compiler may turn 1 / x into a comparison. */
		unsigned long zero = 0;
		__asm__ volatile("xor %%edx, %%edx; mov $1, %%eax; div %0" : : "r"(zero) : "rax", "rdx");
	}
	fprintf(stderr, "fault: unknown fault '%s'\n", argv[1]);
	return 2;
}
