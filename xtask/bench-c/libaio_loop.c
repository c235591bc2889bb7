/*
 * libaio-loop: the hand-written C libaio baseline of `cargo xtask bench`.
 *
 * The same job as `aio-bench` with the same loop shape, written the way a C programmer would
 * with plain libaio: io_prep_pread/io_prep_pwrite, io_submit of up to --batch iocbs,
 * io_getevents(ctx, 1, in_flight, ...) to reap. With --reap ring it instead copies completions
 * from the kernel's mmap'd ring first (the well-known user-space reaping trick) and calls
 * io_getevents only when the ring is empty.
 *
 * Shared with aio-bench, so that the two do the same work per operation:
 *   - offsets: xorshift64 (13, 7, 17) seeded with --seed, block = next % (size / bs);
 *     sequential jobs walk the blocks in order and wrap;
 *   - one CLOCK_MONOTONIC read per loop turn, after reaping: it is both the completion time of
 *     the operations just reaped and the submission time of those pushed next;
 *   - latency into the same log-linear histogram (values below 64 ns exact, then 32 buckets per
 *     power of two), percentiles reported as the bucket's upper bound;
 *   - stops issuing after --runtime seconds (or --ops operations) and drains what is in flight.
 *
 * Output: one JSON object on stdout.
 *
 * Build: gcc -O2 -o libaio-loop libaio_loop.c -laio
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HIST_BUCKETS 1920

static uint64_t hist[HIST_BUCKETS];
static uint64_t hist_count, hist_max, hist_min = UINT64_MAX;
static unsigned __int128 hist_sum;

static inline unsigned hist_index(uint64_t v)
{
	if (v < 64)
		return (unsigned)v;
	unsigned g = 63 - __builtin_clzll(v) - 5;
	return 32 * g + (unsigned)(v >> g);
}

static inline void hist_record(uint64_t v)
{
	hist[hist_index(v)]++;
	hist_count++;
	hist_sum += v;
	if (v > hist_max)
		hist_max = v;
	if (v < hist_min)
		hist_min = v;
}

static uint64_t hist_upper(unsigned i)
{
	if (i < 64)
		return i;
	unsigned g = i / 32 - 1;
	uint64_t lo = (uint64_t)(i % 32 + 32) << g;
	return lo + ((1ull << g) - 1);
}

static uint64_t hist_percentile(double q)
{
	if (hist_count == 0)
		return 0;
	double r = q * (double)hist_count;
	uint64_t rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > hist_count)
		rank = hist_count;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= rank) {
			uint64_t v = hist_upper(i);
			if (v > hist_max)
				v = hist_max;
			if (v < hist_min)
				v = hist_min;
			return v;
		}
	}
	return hist_max;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The kernel's completion ring header (fs/aio.c), mapped at the context's address. */
struct aio_ring {
	unsigned id, nr, head, tail;
	unsigned magic, compat_features, incompat_features, header_length;
	struct io_event io_events[];
};
#define AIO_RING_MAGIC 0xa10a10a1u

static unsigned ring_reap(struct aio_ring *ring, struct io_event *out, unsigned max)
{
	unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	unsigned head = ring->head, nr = ring->nr, n = 0;
	while (head != tail && n < max) {
		out[n++] = ring->io_events[head];
		head = head + 1 == nr ? 0 : head + 1;
	}
	if (n)
		__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
	return n;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "libaio-loop: %s: %s\n", what, strerror(err));
	exit(1);
}

static uint64_t num_arg(const char *s, const char *name)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "libaio-loop: %s: not a number: %s\n", name, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *rw = "randread", *reap = "syscall";
	uint64_t bs = 4096, depth = 32, batch = 0, size = 0, ops_limit = 0, seed = 0x2545F4914F6CDD1Dull;
	double runtime = 5.0;
	int direct = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--buffered")) {
			direct = 0;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "libaio-loop: %s needs a value\n", a);
			return 2;
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--file"))
			path = v;
		else if (!strcmp(a, "--rw"))
			rw = v;
		else if (!strcmp(a, "--reap"))
			reap = v;
		else if (!strcmp(a, "--bs"))
			bs = num_arg(v, a);
		else if (!strcmp(a, "--depth"))
			depth = num_arg(v, a);
		else if (!strcmp(a, "--batch"))
			batch = num_arg(v, a);
		else if (!strcmp(a, "--size"))
			size = num_arg(v, a);
		else if (!strcmp(a, "--ops"))
			ops_limit = num_arg(v, a);
		else if (!strcmp(a, "--seed"))
			seed = num_arg(v, a);
		else if (!strcmp(a, "--runtime"))
			runtime = strtod(v, NULL);
		else {
			fprintf(stderr, "libaio-loop: unknown option %s\n", a);
			return 2;
		}
	}
	int is_write = !strcmp(rw, "write") || !strcmp(rw, "randwrite");
	int is_random = !strcmp(rw, "randread") || !strcmp(rw, "randwrite");
	int use_ring = !strcmp(reap, "ring");
	if (!path || bs == 0 || depth == 0 || (!is_write && strcmp(rw, "read") && !is_random) ||
	    (strcmp(reap, "ring") && strcmp(reap, "syscall"))) {
		fprintf(stderr, "usage: libaio-loop --file PATH [--rw read|randread|write|randwrite] "
				"[--bs N] [--depth N] [--batch N] [--size N] [--runtime S] [--ops N] "
				"[--reap syscall|ring] [--seed N] [--buffered]\n");
		return 2;
	}
	if (batch == 0 || batch > depth)
		batch = depth;
	if (seed == 0)
		seed = 0x2545F4914F6CDD1Dull;

	int fd = open(path, (is_write ? O_RDWR : O_RDONLY) | (direct ? O_DIRECT : 0));
	if (fd < 0)
		die(path, errno);
	if (size == 0) {
		off_t end = lseek(fd, 0, SEEK_END);
		if (end < 0)
			die("lseek", errno);
		size = (uint64_t)end;
	}
	uint64_t blocks = size / bs;
	if (blocks == 0) {
		fprintf(stderr, "libaio-loop: %s is smaller than one block\n", path);
		return 1;
	}

	io_context_t ctx = 0;
	int r = io_setup((int)depth, &ctx);
	if (r < 0)
		die("io_setup", -r);
	struct aio_ring *ring = (struct aio_ring *)ctx;
	if (use_ring && (ring->magic != AIO_RING_MAGIC || ring->incompat_features != 0)) {
		fprintf(stderr, "libaio-loop: the ring is not readable here; reaping by system call\n");
		use_ring = 0;
	}

	struct iocb *cbs = calloc(depth, sizeof *cbs);
	struct iocb **free_cbs = calloc(depth, sizeof *free_cbs);
	struct iocb **queue = calloc(depth, sizeof *queue);
	struct io_event *events = calloc(depth, sizeof *events);
	uint64_t *stamps = calloc(depth, sizeof *stamps);
	char *bufs;
	if (!cbs || !free_cbs || !queue || !events || !stamps)
		die("calloc", ENOMEM);
	if ((r = posix_memalign((void **)&bufs, 4096, depth * bs)))
		die("posix_memalign", r);
	memset(bufs, 0x5a, depth * bs);
	unsigned nfree = 0;
	for (uint64_t i = 0; i < depth; i++)
		free_cbs[nfree++] = &cbs[depth - 1 - i];

	uint64_t rng = seed, seq = 0;
	uint64_t issued = 0, done = 0, in_flight = 0, submit_calls = 0, getevents_calls = 0;
	uint64_t ring_reaped = 0, syscall_reaped = 0;
	unsigned nq = 0;
	int stop = 0;
	uint64_t start = now_ns(), now = start;
	uint64_t deadline = runtime > 0 ? start + (uint64_t)(runtime * 1e9) : UINT64_MAX;

	for (;;) {
		while (!stop && nfree > 0) {
			if (ops_limit && issued >= ops_limit) {
				stop = 1;
				break;
			}
			uint64_t block;
			if (is_random) {
				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				block = rng % blocks;
			} else {
				block = seq;
				seq = seq + 1 == blocks ? 0 : seq + 1;
			}
			struct iocb *cb = free_cbs[--nfree];
			unsigned idx = (unsigned)(cb - cbs);
			if (is_write)
				io_prep_pwrite(cb, fd, bufs + (uint64_t)idx * bs, bs, (long long)(block * bs));
			else
				io_prep_pread(cb, fd, bufs + (uint64_t)idx * bs, bs, (long long)(block * bs));
			stamps[idx] = now;
			queue[nq++] = cb;
			issued++;
			if (nq == batch) {
				unsigned off = 0;
				while (off < nq) {
					r = io_submit(ctx, nq - off, queue + off);
					submit_calls++;
					if (r <= 0)
						die("io_submit", r < 0 ? -r : EAGAIN);
					off += (unsigned)r;
				}
				in_flight += nq;
				nq = 0;
			}
		}
		if (nq) {
			unsigned off = 0;
			while (off < nq) {
				r = io_submit(ctx, nq - off, queue + off);
				submit_calls++;
				if (r <= 0)
					die("io_submit", r < 0 ? -r : EAGAIN);
				off += (unsigned)r;
			}
			in_flight += nq;
			nq = 0;
		}
		if (in_flight == 0)
			break;
		int n = 0;
		if (use_ring) {
			n = (int)ring_reap(ring, events, (unsigned)in_flight);
			ring_reaped += (uint64_t)n;
		}
		if (n == 0) {
			do
				n = io_getevents(ctx, 1, (long)in_flight, events, NULL);
			while (n == -EINTR);
			getevents_calls++;
			if (n < 0)
				die("io_getevents", -n);
			syscall_reaped += (uint64_t)n;
		}
		now = now_ns();
		if (now >= deadline)
			stop = 1;
		for (int i = 0; i < n; i++) {
			struct iocb *cb = events[i].obj;
			long long res = (long long)events[i].res;
			if (res != (long long)bs) {
				if (res < 0)
					die(is_write ? "write" : "read", (int)-res);
				fprintf(stderr, "libaio-loop: short transfer: %lld of %llu bytes\n", res,
					(unsigned long long)bs);
				return 1;
			}
			hist_record(now - stamps[cb - cbs]);
			free_cbs[nfree++] = cb;
		}
		in_flight -= (uint64_t)n;
		done += (uint64_t)n;
	}

	double secs = (double)(now - start) / 1e9;
	double iops = secs > 0 ? (double)done / secs : 0;
	double per_op = done ? 1.0 / (double)done : 0;
	printf("{\"tool\":\"c-libaio\",\"rw\":\"%s\",\"bs\":%llu,\"depth\":%llu,\"batch\":%llu,"
	       "\"direct\":%s,\"reap\":\"%s\",\"ops\":%llu,\"seconds\":%.6f,\"iops\":%.1f,"
	       "\"mib_s\":%.2f,\"lat_ns\":{\"min\":%llu,\"mean\":%.1f,\"p50\":%llu,\"p90\":%llu,"
	       "\"p99\":%llu,\"p99_9\":%llu,\"max\":%llu},\"submit_calls\":%llu,"
	       "\"getevents_calls\":%llu,\"syscalls_per_op\":%.4f,\"ring_reaped\":%llu,"
	       "\"syscall_reaped\":%llu}\n",
	       rw, (unsigned long long)bs, (unsigned long long)depth, (unsigned long long)batch,
	       direct ? "true" : "false", use_ring ? "ring" : "syscall", (unsigned long long)done, secs,
	       iops, iops * (double)bs / 1048576.0, (unsigned long long)(hist_count ? hist_min : 0),
	       hist_count ? (double)hist_sum / (double)hist_count : 0.0,
	       (unsigned long long)hist_percentile(0.50), (unsigned long long)hist_percentile(0.90),
	       (unsigned long long)hist_percentile(0.99), (unsigned long long)hist_percentile(0.999),
	       (unsigned long long)hist_max, (unsigned long long)submit_calls,
	       (unsigned long long)getevents_calls,
	       (double)(submit_calls + getevents_calls) * per_op, (unsigned long long)ring_reaped,
	       (unsigned long long)syscall_reaped);
	io_destroy(ctx);
	close(fd);
	return 0;
}
