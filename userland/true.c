/* true: starts and exits 0, nothing else (the benchmark's trivial program). */
int main(void)
{
	return 0;
}
