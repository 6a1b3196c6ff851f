/* pcibar VENDOR:DEVICE BAR OFFSET [WIDTH]: reads a PCI device's register through /dev/mem.
 *
 * Finds the first device with that vendor and device ID in /proc/bus/pci/devices (Linux's
 * format: bus and devfn, vendor and device, IRQ, then seven BAR starts with their flag
 * bits and seven sizes), takes memory BAR number BAR, maps the page that holds OFFSET
 * with O_SYNC (uncached), and reads WIDTH bits (8, 16 or 32; default 16) there. Example:
 * QEMU's std VGA (1234:1111) has its Bochs display interface in BAR 2 from offset 0x500,
 * where register 0 is the ID: 0xb0c5 (VBE_DISPI_ID5 in QEMU's bochs-vbe.h). QEMU's e1000
 * (8086:100e) resets its CTRL register, BAR 0 offset 0, to SWDPIN2 | SWDPIN0 | SPD_1000 |
 * SLU = 0x140240 (hw/net/e1000.c). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int fail(const char *what, int error)
{
	fprintf(stderr, "pcibar: %s: %s\n", what, strerror(error));
	return 1;
}

int main(int argc, char **argv)
{
	unsigned vendor, device;
	char *end;
	if (argc < 4 || argc > 5 || sscanf(argv[1], "%x:%x", &vendor, &device) != 2) {
		fprintf(stderr, "usage: pcibar VENDOR:DEVICE BAR OFFSET [WIDTH]\n");
		return 2;
	}
	unsigned long bar = strtoul(argv[2], &end, 0);
	uint64_t offset = strtoull(argv[3], NULL, 0);
	unsigned long width = argc == 5 ? strtoul(argv[4], NULL, 0) : 16;
	if (*end || bar > 5 || (width != 8 && width != 16 && width != 32) || offset % (width / 8)) {
		fprintf(stderr, "pcibar: BAR is 0 to 5, WIDTH 8, 16 or 32, OFFSET aligned to it\n");
		return 2;
	}
	FILE *devices = fopen("/proc/bus/pci/devices", "r");
	if (!devices)
		return fail("/proc/bus/pci/devices", errno);
	char line[512];
	uint64_t start = 0, size = 0;
	unsigned busdevfn = 0;
	int found = 0;
	while (!found && fgets(line, sizeof line, devices)) {
		unsigned id, irq;
		uint64_t starts[7], sizes[7];
		int n = sscanf(line,
			       "%x %x %x %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64
			       " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64
			       " %" SCNx64 " %" SCNx64,
			       &busdevfn, &id, &irq, &starts[0], &starts[1], &starts[2], &starts[3],
			       &starts[4], &starts[5], &starts[6], &sizes[0], &sizes[1], &sizes[2],
			       &sizes[3], &sizes[4], &sizes[5], &sizes[6]);
		if (n == 17 && id == (vendor << 16 | device)) {
			found = 1;
			start = starts[bar];
			size = sizes[bar];
		}
	}
	fclose(devices);
	if (!found)
		return fail(argv[1], ENODEV);
	/* Bit 0 set: an I/O-port BAR, which /dev/port reaches, not /dev/mem. */
	if (size == 0 || (start & 1)) {
		fprintf(stderr, "pcibar: %04x:%04x has no memory BAR %lu\n", vendor, device, bar);
		return 1;
	}
	uint64_t base = start & ~(uint64_t)0xf;
	if (offset + width / 8 > size) {
		fprintf(stderr, "pcibar: offset %#" PRIx64 " is past BAR %lu's %#" PRIx64 " bytes\n", offset, bar,
			size);
		return 1;
	}
	int fd = open("/dev/mem", O_RDONLY | O_SYNC);
	if (fd < 0)
		return fail("/dev/mem", errno);
	uint64_t address = base + offset, page = address & ~(uint64_t)4095;
	void *map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, (off_t)page);
	if (map == MAP_FAILED)
		return fail("mmap", errno);
	const volatile uint8_t *p = (const volatile uint8_t *)map + (address - page);
	uint32_t value = width == 8 ? *p : width == 16 ? *(const volatile uint16_t *)p : *(const volatile uint32_t *)p;
	printf("%02x:%02x.%x BAR%lu %#" PRIx64 "+%#" PRIx64 ": %#x\n", busdevfn >> 8, (busdevfn >> 3) & 0x1f,
	       busdevfn & 7, bar, base, offset, value);
	munmap(map, 4096);
	close(fd);
	return 0;
}
