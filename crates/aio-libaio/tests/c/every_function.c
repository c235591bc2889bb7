/* Every function of libaio.so.1, called as a C program calls it: compiled against the system's
 * <libaio.h>, linked against the library under test. Each check prints what it saw; the exit
 * status is the number of failed checks (0: all passed). Run by tests/integration/main.rs. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Exported by libaio (both versions) but not declared by <libaio.h>. */
extern int io_queue_wait(io_context_t ctx, struct timespec *timeout);

static int failures;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (cond) {                                                \
			printf("ok    %s:%d: ", __func__, __LINE__);       \
		} else {                                                   \
			failures++;                                        \
			printf("FAIL  %s:%d: %s: ", __func__, __LINE__, #cond); \
		}                                                          \
		printf(__VA_ARGS__);                                       \
		printf("\n");                                              \
	} while (0)

#define BLOCK 4096
#define BLOCKS 64

static int file;
static char path[256];

/* A file of BLOCKS blocks; block i is filled with the byte i. */
static void make_file(void)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(path, sizeof path, "%s/aio-libaio-c-%d", dir, (int)getpid());
	file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file < 0) {
		perror(path);
		exit(100);
	}
	unlink(path);
	static char block[BLOCK];
	for (int i = 0; i < BLOCKS; i++) {
		memset(block, i, BLOCK);
		if (pwrite(file, block, BLOCK, (off_t)i * BLOCK) != BLOCK) {
			perror("pwrite");
			exit(100);
		}
	}
}

static void setup_errors(void)
{
	io_context_t ctx = 0;
	CHECK(io_queue_init(0, &ctx) == -EINVAL, "io_queue_init(0) = -EINVAL");
	CHECK(io_queue_init(-5, &ctx) == -EINVAL, "io_queue_init(-5) = -EINVAL");
	CHECK(io_setup(8, NULL) == -EFAULT, "io_setup(8, NULL) = -EFAULT");
	ctx = (io_context_t)(uintptr_t)0x1000;
	CHECK(io_setup(8, &ctx) == -EINVAL, "io_setup over a non-zero context = -EINVAL");
	ctx = 0;
	CHECK(io_setup(0, &ctx) == -EINVAL, "io_setup(0) = -EINVAL");
	int r = io_destroy((io_context_t)(uintptr_t)0x1000);
	CHECK(r == -EINVAL, "io_destroy(not a context) = %d", r);
}

static void read_write(io_context_t ctx)
{
	static char out[BLOCK] __attribute__((aligned(4096)));
	static char in[BLOCK] __attribute__((aligned(4096)));
	struct iocb cb, *cbs[1] = {&cb};
	struct io_event ev[4];
	memset(out, 0x5a, BLOCK);
	io_prep_pwrite(&cb, file, out, BLOCK, 3 * BLOCK);
	cb.data = (void *)(uintptr_t)0xfeed;
	int r = io_submit(ctx, 1, cbs);
	CHECK(r == 1, "io_submit(write) = %d", r);
	r = io_getevents(ctx, 1, 4, ev, NULL);
	CHECK(r == 1, "io_getevents(1, 4, NULL) = %d", r);
	CHECK(ev[0].res == BLOCK && ev[0].obj == &cb && ev[0].data == (void *)(uintptr_t)0xfeed,
	      "write event: res %ld, obj ok %d, data %p", (long)ev[0].res, ev[0].obj == &cb, ev[0].data);
	io_prep_pread(&cb, file, in, BLOCK, 3 * BLOCK);
	r = io_submit(ctx, 1, cbs);
	CHECK(r == 1, "io_submit(read) = %d", r);
	struct timespec zero = {0, 0};
	/* A page-cache read completes inside io_submit: its event is in the ring already. */
	r = io_getevents(ctx, 0, 4, ev, &zero);
	CHECK(r == 1 && ev[0].res == BLOCK && memcmp(in, out, BLOCK) == 0,
	      "io_getevents(0, 4, {0,0}) = %d, the data written read back", r);
	r = io_getevents(ctx, 0, 4, ev, &zero);
	CHECK(r == 0, "io_getevents on an empty ring, zero timeout = %d", r);
	/* The kernel's answer. (Debian's libaio answers 0 here: it returns before asking the
	 * kernel when the ring is empty and the timeout zero.) */
	r = io_getevents(ctx, 2, 1, ev, &zero);
	CHECK(r == -EINVAL, "io_getevents(min 2 > nr 1) = %d", r);
	r = io_getevents(ctx, -1, 1, ev, &zero);
	CHECK(r == -EINVAL, "io_getevents(min -1) = %d", r);
	r = io_queue_wait(ctx, &zero);
	CHECK(r == 0, "io_queue_wait = %d", r);
}

/* Many operations, then one call that takes them all: each event exactly once. */
static void batch(io_context_t ctx)
{
	static char bufs[32][BLOCK];
	struct iocb cbs[32], *ptrs[32];
	struct io_event ev[32];
	for (int i = 0; i < 32; i++) {
		io_prep_pread(&cbs[i], file, bufs[i], BLOCK, (long long)i * BLOCK);
		cbs[i].data = (void *)(uintptr_t)i;
		ptrs[i] = &cbs[i];
	}
	int r = io_submit(ctx, 32, ptrs);
	CHECK(r == 32, "io_submit(32 reads) = %d", r);
	int seen[32] = {0}, total = 0;
	while (total < 32) {
		r = io_getevents(ctx, 1, 32, ev, NULL);
		if (r <= 0)
			break;
		for (int i = 0; i < r; i++) {
			int tag = (int)(uintptr_t)ev[i].data;
			if (tag >= 0 && tag < 32 && ev[i].res == BLOCK && bufs[tag][0] == (char)(tag == 3 ? 0x5a : tag))
				seen[tag]++;
		}
		total += r;
	}
	int once = 1;
	for (int i = 0; i < 32; i++)
		once &= seen[i] == 1;
	CHECK(total == 32 && once, "32 events, each once, each with its block's data (%d)", total);
}

/* A poll that does not complete: timeouts, io_pgetevents, io_cancel. */
static void poll_cancel(io_context_t ctx)
{
	int fds[2];
	if (pipe(fds) != 0) {
		perror("pipe");
		exit(100);
	}
	struct iocb cb, *cbs[1] = {&cb};
	struct io_event ev[2];
	io_prep_poll(&cb, fds[0], POLLIN);
	int r = io_submit(ctx, 1, cbs);
	CHECK(r == 1, "io_submit(poll) = %d", r);
	struct timespec t = {0, 30 * 1000 * 1000}, t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = io_getevents(ctx, 1, 2, ev, &t);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double waited = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(r == 0 && waited >= 0.025, "io_getevents times out: %d after %.3f s", r, waited);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	r = io_pgetevents(ctx, 1, 2, ev, &t, &mask);
	CHECK(r == 0, "io_pgetevents times out with a mask: %d", r);
	struct io_event result;
	r = io_cancel(ctx, &cb, &result);
	CHECK(r == -EINPROGRESS || r == 0, "io_cancel(poll) = %d", r);
	if (r == -EINPROGRESS) {
		r = io_getevents(ctx, 1, 2, ev, NULL);
		CHECK(r == 1 && ev[0].obj == &cb && ev[0].res == 0, "the cancelled poll's event: %d, res %ld", r, (long)ev[0].res);
	}
	/* A poll that completes, through io_pgetevents. */
	io_prep_poll(&cb, fds[0], POLLIN);
	r = io_submit(ctx, 1, cbs);
	CHECK(r == 1, "io_submit(poll) = %d", r);
	if (write(fds[1], "x", 1) != 1)
		perror("write");
	r = io_pgetevents(ctx, 1, 2, ev, NULL, &mask);
	CHECK(r == 1 && (ev[0].res & POLLIN), "io_pgetevents: %d, revents %#lx", r, (long)ev[0].res);
	close(fds[0]);
	close(fds[1]);
}

static int callbacks;
static io_context_t callback_ctx;

static void on_done(io_context_t ctx, struct iocb *cb, long res, long res2)
{
	if (ctx == callback_ctx && res == BLOCK && res2 == 0 && cb->aio_lio_opcode == IO_CMD_PREAD)
		callbacks++;
}

static void queue_run(io_context_t ctx)
{
	static char bufs[3][BLOCK];
	struct iocb cbs[3], *ptrs[3];
	callback_ctx = ctx;
	for (int i = 0; i < 3; i++) {
		io_prep_pread(&cbs[i], file, bufs[i], BLOCK, (long long)i * BLOCK);
		io_set_callback(&cbs[i], on_done);
		ptrs[i] = &cbs[i];
	}
	int r = io_submit(ctx, 3, ptrs);
	CHECK(r == 3, "io_submit(3 reads with callbacks) = %d", r);
	for (int tries = 0; callbacks < 3 && tries < 1000; tries++) {
		r = io_queue_run(ctx);
		if (r < 0)
			break;
		if (callbacks < 3)
			usleep(1000);
	}
	CHECK(r == 0 && callbacks == 3, "io_queue_run called %d callbacks, returned %d", callbacks, r);
}

/* The compatibility versions, as a program linked against libaio 0.1 finds them. */
static void compat(io_context_t ctx)
{
	void *lib = dlopen("libaio.so.1", RTLD_NOW | RTLD_NOLOAD);
	CHECK(lib != NULL, "libaio.so.1 is loaded");
	if (!lib)
		return;
	int (*getevents01)(io_context_t, long, struct io_event *, const struct timespec *) =
		(int (*)(io_context_t, long, struct io_event *, const struct timespec *))dlvsym(lib, "io_getevents", "LIBAIO_0.1");
	int (*cancel01)(io_context_t, struct iocb *) =
		(int (*)(io_context_t, struct iocb *))dlvsym(lib, "io_cancel", "LIBAIO_0.1");
	int (*wait01)(io_context_t, struct timespec *) =
		(int (*)(io_context_t, struct timespec *))dlvsym(lib, "io_queue_wait", "LIBAIO_0.1");
	CHECK(getevents01 && cancel01 && wait01, "io_getevents, io_cancel, io_queue_wait @LIBAIO_0.1");
	CHECK(dlvsym(lib, "io_pgetevents", "LIBAIO_0.5") && dlvsym(lib, "io_setup", "LIBAIO_0.4") &&
	      dlvsym(lib, "io_submit", "LIBAIO_0.1"), "io_pgetevents@0.5, io_setup@0.4, io_submit@0.1");
	if (!getevents01 || !cancel01 || !wait01)
		return;
	static char buf[BLOCK];
	struct iocb cb, *cbs[1] = {&cb};
	struct io_event ev[2];
	io_prep_pread(&cb, file, buf, BLOCK, 5 * BLOCK);
	int r = io_submit(ctx, 1, cbs);
	r = getevents01(ctx, 2, ev, NULL);
	CHECK(r == 1 && ev[0].res == BLOCK && buf[0] == 5, "io_getevents@LIBAIO_0.1 (at least one) = %d", r);
	int fds[2];
	if (pipe(fds) != 0)
		return;
	io_prep_poll(&cb, fds[0], POLLIN);
	io_submit(ctx, 1, cbs);
	r = cancel01(ctx, &cb);
	CHECK(r == -EINPROGRESS || r == 0, "io_cancel@LIBAIO_0.1 = %d", r);
	if (r == -EINPROGRESS)
		getevents01(ctx, 2, ev, NULL);
	struct timespec zero = {0, 0};
	CHECK(wait01(ctx, &zero) == 0, "io_queue_wait@LIBAIO_0.1");
	close(fds[0]);
	close(fds[1]);
}

/* Several threads wait on one context while another submits: each event reaches exactly one
 * of them, whether it was read from the ring or by the kernel. */
#define THREAD_OPS 20000
#define THREADS 4
static io_context_t shared_ctx;
static int thread_seen[THREAD_OPS];
static int thread_total, thread_stop;
static pthread_mutex_t thread_lock = PTHREAD_MUTEX_INITIALIZER;

static void *waiter(void *arg)
{
	(void)arg;
	struct io_event ev[8];
	struct timespec t = {0, 2 * 1000 * 1000};
	for (;;) {
		int r = (rand() & 1) ? io_getevents(shared_ctx, 1, 8, ev, &t) : io_getevents(shared_ctx, 0, 8, ev, NULL);
		pthread_mutex_lock(&thread_lock);
		for (int i = 0; i < r; i++) {
			uintptr_t tag = (uintptr_t)ev[i].data;
			if (tag < THREAD_OPS)
				thread_seen[tag]++;
		}
		if (r > 0)
			thread_total += r;
		int stop = thread_stop && thread_total >= THREAD_OPS;
		pthread_mutex_unlock(&thread_lock);
		if (stop || r < 0)
			return NULL;
		if (r == 0)
			sched_yield();
	}
}

static void threads(void)
{
	int r = io_queue_init(256, &shared_ctx);
	CHECK(r == 0, "io_queue_init(256) = %d", r);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, waiter, NULL);
	static char buf[BLOCK];
	static struct iocb cbs[64];
	struct iocb *ptrs[64];
	int submitted = 0;
	while (submitted < THREAD_OPS) {
		int n = 1 + rand() % 16;
		if (n > THREAD_OPS - submitted)
			n = THREAD_OPS - submitted;
		for (int i = 0; i < n; i++) {
			/* The buffer is shared: only the tags are checked here. */
			io_prep_pread(&cbs[i], file, buf, 512, 0);
			cbs[i].data = (void *)(uintptr_t)(submitted + i);
			ptrs[i] = &cbs[i];
		}
		r = io_submit(shared_ctx, n, ptrs);
		if (r == -EAGAIN) {
			sched_yield();
			continue;
		}
		if (r <= 0)
			break;
		submitted += r;
	}
	pthread_mutex_lock(&thread_lock);
	thread_stop = 1;
	pthread_mutex_unlock(&thread_lock);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	int once = 0;
	for (int i = 0; i < THREAD_OPS; i++)
		once += thread_seen[i] == 1;
	CHECK(submitted == THREAD_OPS && thread_total == THREAD_OPS && once == THREAD_OPS,
	      "%d threads, %d operations: %d events, %d exactly once", THREADS, submitted, thread_total, once);
	CHECK(io_queue_release(shared_ctx) == 0, "io_queue_release");
}

/* A child after fork must not take the parent's events from the shared ring. */
static void fork_child(io_context_t ctx)
{
	static char buf[2][BLOCK];
	struct iocb cbs[2], *ptrs[2] = {&cbs[0], &cbs[1]};
	for (int i = 0; i < 2; i++)
		io_prep_pread(&cbs[i], file, buf[i], BLOCK, 0);
	int r = io_submit(ctx, 2, ptrs);
	CHECK(r == 2, "io_submit(2) before fork = %d", r);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct io_event ev[4];
		struct timespec zero = {0, 0};
		int got = io_getevents(ctx, 0, 4, ev, &zero);
		_exit(got == -EINVAL ? 0 : 10 + (got < 0 ? 0 : got));
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the child's io_getevents on the parent's context = -EINVAL (exit %d)", WEXITSTATUS(status));
	struct io_event ev[4];
	r = io_getevents(ctx, 2, 4, ev, NULL);
	CHECK(r == 2, "the parent still has its 2 events: %d", r);
	/* The parent's contexts made after the fork still work. */
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	make_file();
	setup_errors();
	io_context_t ctx = 0;
	int r = io_queue_init(64, &ctx);
	CHECK(r == 0, "io_queue_init(64) = %d", r);
	if (r != 0)
		return 100;
	read_write(ctx);
	batch(ctx);
	poll_cancel(ctx);
	queue_run(ctx);
	compat(ctx);
	fork_child(ctx);
	threads();
	r = io_destroy(ctx);
	CHECK(r == 0, "io_destroy = %d", r);
	r = io_destroy(ctx);
	CHECK(r == -EINVAL, "io_destroy again = %d", r);
	struct io_event ev[1];
	struct timespec zero = {0, 0};
	r = io_getevents(ctx, 0, 1, ev, &zero);
	CHECK(r == -EINVAL, "io_getevents on a destroyed context = %d", r);
	printf("%d failed\n", failures);
	return failures;
}
