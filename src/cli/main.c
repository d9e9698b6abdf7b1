// main.c: the gpt tool's entry point. `gpt SUBCOMMAND ...` runs a
// subcommand; anything else is generation (`gpt -m MODEL -p PROMPT`).
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gpt.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"generate", cmd_generate, "generate text (the default: `gpt -m MODEL -p PROMPT`)"},
    {"tokenize", cmd_tokenize, "print the token ids of stdin"},
    {"detokenize", cmd_detokenize, "write the bytes of the ids on stdin"},
    {"logits", cmd_logits, "print or save the logits of a sequence of ids"},
    {"info", cmd_info, "describe a model file"},
    {"convert", cmd_convert, "convert a checkpoint to GGUF (F32, F16, Q8_0, Q4_0)"},
    {"bench", cmd_bench, "measure prompt and generation speed, and memory bandwidth"},
    {"perplexity", cmd_perplexity, "perplexity of a text, and KL divergence between two models"},
};

static void print_commands(FILE *f) {
    fprintf(f, "usage: gpt -m MODEL -p PROMPT [options]   (gpt --help for the options)\n"
               "       gpt COMMAND [options]              (gpt COMMAND --help)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc >= 2 && argv[1][0] != '-') {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
        fprintf(stderr, "gpt: unknown command '%s'\n", argv[1]);
        print_commands(stderr);
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("gpt %s\n", GPT_VERSION);
        return 0;
    }
    if (argc < 2) {
        print_commands(stderr);
        return 1;
    }
    return cmd_generate(argc, argv);
}
