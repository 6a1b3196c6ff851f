/* hello: the smallest useful program; prints its arguments and exits 0. */
#include <stdio.h>

int main(int argc, char **argv)
{
	printf("hello from ring 3:");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	return 0;
}
