/* The reference: the same ioctl from a separate C program. Prints the median ns per call of
 * `reps` runs of `count` FIONREAD ioctls on a pipe (mode "pipe") or on /dev/null (mode
 * "enotty", the error path). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s pipe|enotty count reps\n", argv[0]);
    return 2;
  }
  int count = atoi(argv[2]), reps = atoi(argv[3]);
  int fd, pipefds[2];
  if (strcmp(argv[1], "pipe") == 0) {
    if (pipe(pipefds) != 0) return 1;
    fd = pipefds[0];
  } else {
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  double *samples = calloc(reps, sizeof(double));
  for (int r = 0; r < reps; ++r) {
    int readable = 0;
    double start = now_ns();
    for (int i = 0; i < count; ++i) ioctl(fd, FIONREAD, &readable);
    samples[r] = (now_ns() - start) / count;
  }
  qsort(samples, reps, sizeof(double), compare_doubles);
  printf("%.1f\n", samples[reps / 2]);
  return 0;
}
