/* What the benchmark's C programs share: failing loudly, a monotonic clock, the median of rounds. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline void die(const char *what) {
  perror(what);
  exit(1);
}

static inline double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The middle sample (the upper one of the two middles for an even count); sorts `samples`. */
static inline double median(double *samples, int count) {
  qsort(samples, count, sizeof(*samples), compare_doubles);
  return samples[count / 2];
}
