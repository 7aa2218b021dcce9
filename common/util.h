/* Small language helpers shared by every module: container_of, ASSERT,
 * MUST_CHECK, object magic checks, array sizes. Header only. */
#ifndef G3C_COMMON_UTIL_H
#define G3C_COMMON_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define MUST_CHECK __attribute__((warn_unused_result))
#define PRINTF_FMT(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#define UNUSED __attribute__((unused))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Log "file:line: assertion failed: expr" to stderr and abort. Never returns. */
NORETURN void util_assert_fail(const char *file, int line, const char *expr);

/* Always-on invariant check (never for validating input). */
#define ASSERT(expr)                                                 \
	do {                                                         \
		if (UNLIKELY(!(expr)))                               \
			util_assert_fail(__FILE__, __LINE__, #expr); \
	} while (0)

/* Objects that travel through void * start with `uint32_t magic`. */
#define CHECK_OBJ(obj, m) ASSERT((obj) != NULL && (obj)->magic == (m))
#define POISON_OBJ(obj) ((obj)->magic = 0xdeadbeefu)

/* Abort with a log line when a control-plane allocation fails. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Monotonic clock in nanoseconds / wall clock in microseconds since the epoch. */
uint64_t util_mono_ns(void);
uint64_t util_wall_us(void);

#endif
