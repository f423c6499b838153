// The test guest's reader: copies the first MIB mebibytes of a block device to stdout with O_DIRECT,
// so every byte comes from the device by DMA, none from the page cache, and prints on stderr how
// long the reads took (the writes to stdout not counted): "direct-read: MIB MiB read in SECONDS s".
//   direct-read /dev/nvme0n1 MIB | sha256sum
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int write_all(const char *data, size_t length) {
  while (length > 0) {
    ssize_t written = write(STDOUT_FILENO, data, length);
    if (written <= 0) return -1;
    data += written;
    length -= (size_t)written;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: direct-read DEVICE MIB\n");
    return 2;
  }
  long mib = strtol(argv[2], NULL, 10);
  int fd = open(argv[1], O_RDONLY | O_DIRECT);
  void *buffer = NULL;
  if (fd < 0 || posix_memalign(&buffer, 4096, CHUNK) != 0) {
    perror("direct-read: open");
    return 1;
  }
  double reading = 0;
  for (long i = 0; i < mib; i++) {
    double started = now();
    ssize_t got = read(fd, buffer, CHUNK);
    reading += now() - started;
    if (got != CHUNK) {
      fprintf(stderr, "direct-read: read of MiB %ld returned %zd\n", i, got);
      return 1;
    }
    if (write_all(buffer, CHUNK) != 0) return 1;
  }
  fprintf(stderr, "direct-read: %ld MiB read in %.6f s\n", mib, reading);
  return 0;
}
