// cli.h: the subcommands of the gpt tool (one file each) and the small flag
// helpers they share. Each command returns the process exit code.
#ifndef GPT_CLI_H
#define GPT_CLI_H

#include <stdbool.h>
#include <stdint.h>

int cmd_generate(int argc, char **argv);    // cmd_generate.c (the default command)
int cmd_tokenize(int argc, char **argv);    // cmd_tokenize.c
int cmd_detokenize(int argc, char **argv);  // cmd_tokenize.c
int cmd_logits(int argc, char **argv);      // cmd_logits.c
int cmd_info(int argc, char **argv);        // cmd_info.c
int cmd_convert(int argc, char **argv);     // cmd_convert.c
int cmd_bench(int argc, char **argv);       // cmd_bench.c
int cmd_perplexity(int argc, char **argv);  // cmd_perplexity.c

// Print "gpt: <message>" to stderr (one line) and return 1, the exit code
// for every user error.
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Flag values, parsed strictly: the whole string must be a number in
// [lo, hi], otherwise cli_error names the flag and the value.
// Each returns 0 on success, 1 (after printing) on a bad value.
int parse_int_flag(const char *flag, const char *s, long lo, long hi, long *out);
int parse_float_flag(const char *flag, const char *s, double lo, double hi, double *out);
int parse_u64_flag(const char *flag, const char *s, uint64_t *out);
// --kv-type auto|f32|f16 as gpt.h's gpt_kv_type
int parse_kv_flag(const char *flag, const char *s, int *out);
// The flag's name for a resolved cache type: "f32" or "f16".
const char *kv_type_name(int kv);

// For "-x VALUE": returns argv[*i + 1] and advances *i, or prints
// "gpt: FLAG needs a value" and returns NULL.
const char *flag_value(int argc, char **argv, int *i);

// physical_cores() (the default thread count) is in util.h.
#include "util.h"

#endif
