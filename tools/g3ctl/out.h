/* g3ctl output: commands add typed items, then out_flush renders them either
 * as aligned human "key: value" lines (nested items indented, list entries
 * as "- value") or as one JSON object. Times and durations are numbers in
 * JSON (keys get a "_us" / "_ms" suffix) and readable text for humans. */
#ifndef G3C_TOOLS_G3CTL_OUT_H
#define G3C_TOOLS_G3CTL_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct out;

/* Owned collector (out_free). */
struct out *out_new(bool json);
void out_free(struct out *o);

/* Items; key and value are copied. Inside a list, key is ignored. */
void out_str(struct out *o, const char *key, const char *val);
void out_u64(struct out *o, const char *key, uint64_t v);
void out_bool(struct out *o, const char *key, bool v);
/* Wall clock µs since the epoch: JSON "<key>_us": n, human RFC 3339 UTC. */
void out_time_us(struct out *o, const char *key, uint64_t us);
/* Milliseconds: JSON "<key>_ms": n, human "1h2m3.456s". */
void out_dur_ms(struct out *o, const char *key, uint64_t ms);

/* Nest the following items in an object or a list until out_end (one level
 * of nesting is enough for every command so far; deeper is refused). */
void out_begin_object(struct out *o, const char *key);
void out_begin_list(struct out *o, const char *key);
void out_end(struct out *o);

/* Render everything to f. */
void out_flush(struct out *o, FILE *f);

/* JSON string literal of s (with quotes) into f. */
void out_json_string(FILE *f, const char *s);

#endif
