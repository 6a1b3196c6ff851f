/* syscalls [N]: makes N getppid system calls (default 1000000), for the benchmark of
 * system-call round trips; prints the count and the time taken. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	struct timespec start, end;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &end);
	double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
	printf("%ld getppid calls in %.0f us: %.0f ns each\n", n, ns / 1000, n ? ns / n : 0);
	return 0;
}
