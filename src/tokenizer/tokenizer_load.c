// tokenizer_load.c: every tokenizer source turned into one tokenizer_spec.
//
//   GGUF tokenizer.ggml.*  -> spec (tokenizer_from_gguf): the one reader
//   tokenizer.json (+ tokenizer_config.json) -> tokenizer.ggml.* keys
//   llama2.c tokenizer.bin                   -> tokenizer.ggml.* keys
//   GPT-2 encoder.json + vocab.bpe           -> tokenizer.ggml.* keys
//
// The keys are the ones llama.cpp's converters write, so `gpt convert` of
// any of these sources gives a GGUF file llama.cpp tokenizes the same way.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#ifndef typeof
#define typeof __typeof__  // stb_ds.h's macros use GNU typeof, absent from strict -std=c11
#endif
#include <stb_ds.h>

#include "tokenizer.h"
#include "util.h"

#define MAX_TOKENIZER_FILE ((size_t)256 << 20)
#define MAX_VOCAB (1u << 24)

// ---- GGUF keys -> spec -------------------------------------------------------------

// An optional id key: -1 when absent.
static int opt_id(const gguf_ctx *g, const char *key, int32_t *out, char *err) {
    *out = -1;
    if (!gguf_find_kv(g, key)) return 0;
    uint64_t v;
    if (gguf_get_uint(g, key, &v, err) != 0) return -1;
    // 0xFFFFFFFF is -1 stored as uint32: llama.cpp's "no such token" (its
    // convert-llama2c-to-ggml writes the padding id so)
    if (v == UINT32_MAX) return 0;
    *out = v > INT32_MAX ? INT32_MAX : (int32_t)v;  // an id this large fails the range check
    return 0;
}

// An optional bool key (def when absent).
static int opt_bool(const gguf_ctx *g, const char *key, bool def, bool *out, const char *src, char *err) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    *out = def;
    if (!kv) return 0;
    if (kv->type != GGUF_TYPE_BOOL) return gpt_fail(err, "%s: %s: not a bool", src, key);
    *out = kv->v.u != 0;
    return 0;
}

// The array key's elements copied out (GGUF arrays may be unaligned in the map).
static int copy_arr(const gguf_ctx *g, const char *key, int type, size_t elem, uint64_t n, void **out,
                    const char *src, char *err) {
    const gguf_kv *kv;
    *out = NULL;
    if (!gguf_find_kv(g, key)) return 0;
    if (gguf_get_arr(g, key, type, &kv, err) != 0) return -1;
    if (kv->v.arr.n != n)
        return gpt_fail(err, "%s: %s: %llu entries for %llu tokens", src, key, (unsigned long long)kv->v.arr.n,
                        (unsigned long long)n);
    *out = malloc(n * elem + 1);
    if (!*out) return gpt_fail(err, "%s: out of memory", src);
    memcpy(*out, kv->v.arr.data, n * elem);
    return 0;
}

// The id of a CONTROL token with this text, or -1 (for files without the key).
static int32_t find_control(const gguf_str *tokens, const int32_t *types, uint64_t n, const char *text) {
    size_t len = strlen(text);
    for (uint64_t i = 0; i < n; i++)
        if ((!types || types[i] == TOKEN_CONTROL) && tokens[i].len == len && memcmp(tokens[i].ptr, text, len) == 0)
            return (int32_t)i;
    return -1;
}

static int spec_kind(const gguf_ctx *g, tokenizer_spec *s, char *err) {
    const gguf_kv *model = gguf_find_kv(g, "tokenizer.ggml.model");
    s->kind = TOKENIZER_BPE;
    if (model) {
        if (model->type != GGUF_TYPE_STRING) return gpt_fail(err, "%s: tokenizer.ggml.model: not a string", s->src);
        if (gguf_str_eq(model->v.s, "llama")) {
            s->kind = TOKENIZER_SPM;
        } else if (!gguf_str_eq(model->v.s, "gpt2")) {
            return gpt_fail(err, "%s: tokenizer.ggml.model: '%.*s' is not a tokenizer gpt knows (known: gpt2 = "
                                 "byte-level BPE, llama = SentencePiece BPE)", s->src,
                            (int)(model->v.s.len > 40 ? 40 : model->v.s.len), model->v.s.ptr);
        }
    }
    if (s->kind == TOKENIZER_SPM) return 0;
    // files from before the key (this project's own, GPT-2's) are GPT-2's
    const gguf_kv *pre = gguf_find_kv(g, "tokenizer.ggml.pre");
    s->pre = PRETOK_GPT2;
    if (pre) {
        if (pre->type != GGUF_TYPE_STRING) return gpt_fail(err, "%s: tokenizer.ggml.pre: not a string", s->src);
        int k = pretok_from_name(pre->v.s.ptr, pre->v.s.len);
        if (k < 0)
            return gpt_fail(err, "%s: tokenizer.ggml.pre: '%.*s' is not a pre-tokenizer gpt knows (known: %s)", s->src,
                            (int)(pre->v.s.len > 40 ? 40 : pre->v.s.len), pre->v.s.ptr, pretok_known_names());
        s->pre = (pretok_kind)k;
    }
    s->ignore_merges = s->pre == PRETOK_LLAMA3;  // Llama 3's tokenizer.json says so; llama.cpp's rule
    s->nfc = s->pre == PRETOK_QWEN2;             // Qwen's tokenizer.json normalizer (llama.cpp skips it)
    return 0;
}

int tokenizer_from_gguf(gpt_tokenizer **out, const gguf_ctx *g, char *err) {
    *out = NULL;
    tokenizer_spec s = {0};
    s.src = gguf_path(g)[0] ? gguf_path(g) : "(in-memory GGUF)";
    if (spec_kind(g, &s, err) != 0) return -1;
    const gguf_kv *tokens, *merges = NULL;
    if (gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &tokens, err) != 0) return -1;
    s.tokens = tokens->v.arr.data;
    s.n_vocab = tokens->v.arr.n;
    if (gguf_find_kv(g, "tokenizer.ggml.merges") &&
        gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &merges, err) != 0)
        return -1;
    if (merges) s.merges = merges->v.arr.data, s.n_merges = merges->v.arr.n;
    int32_t *types = NULL;
    float *scores = NULL;
    int rc = copy_arr(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, 4, s.n_vocab, (void **)&types, s.src, err);
    if (rc == 0 && s.kind == TOKENIZER_SPM)
        rc = copy_arr(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, 4, s.n_vocab, (void **)&scores, s.src, err);
    s.types = types;
    s.scores = scores;
    if (rc == 0)
        rc = opt_id(g, "tokenizer.ggml.bos_token_id", &s.bos, err) ||
             opt_id(g, "tokenizer.ggml.eos_token_id", &s.eos, err) ||
             opt_id(g, "tokenizer.ggml.eot_token_id", &s.eot, err) ||
             opt_id(g, "tokenizer.ggml.eom_token_id", &s.eom, err) ||
             opt_id(g, "tokenizer.ggml.padding_token_id", &s.pad, err) ||
             opt_id(g, "tokenizer.ggml.unknown_token_id", &s.unk, err);
    bool spm = s.kind == TOKENIZER_SPM;
    if (rc == 0)  // llama.cpp's defaults: SentencePiece adds BOS and a space prefix
        rc = opt_bool(g, "tokenizer.ggml.add_bos_token", spm, &s.add_bos, s.src, err) ||
             opt_bool(g, "tokenizer.ggml.add_eos_token", false, &s.add_eos, s.src, err) ||
             opt_bool(g, "tokenizer.ggml.add_space_prefix", true, &s.add_space_prefix, s.src, err);
    if (rc == 0 && !spm && s.eos < 0 && !gguf_find_kv(g, "tokenizer.ggml.eos_token_id"))
        s.eos = find_control(s.tokens, types, s.n_vocab, "<|endoftext|>");
    if (rc == 0 && s.eot < 0) {  // llama.cpp finds these by their text too
        s.eot = find_control(s.tokens, types, s.n_vocab, "<|eot_id|>");
        if (s.eot < 0) s.eot = find_control(s.tokens, types, s.n_vocab, "<|im_end|>");
    }
    if (rc == 0 && s.add_bos && s.bos < 0 && !gguf_find_kv(g, "tokenizer.ggml.add_bos_token"))
        s.add_bos = false;  // the default asks for a BOS the file does not name
    if (rc == 0) rc = tokenizer_build(out, &s, err);
    free(types);
    free(scores);
    return rc;
}

// ---- GPT-2's encoder.json / vocab.json and vocab.bpe / merges.txt -----------------------

// {"token": id, ...} with ids 0..n-1, each once.
static int read_vocab_json(const char *path, cJSON **root, gguf_str **tokens, uint64_t *n, char *err) {
    char *text;
    size_t len;
    if (read_file_all(path, MAX_TOKENIZER_FILE, &text, &len, err) != 0) return -1;
    *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!*root || !cJSON_IsObject(*root)) return gpt_fail(err, "%s: not a JSON object of token ids", path);
    int count = cJSON_GetArraySize(*root);
    *tokens = calloc(count > 0 ? (size_t)count : 1, sizeof **tokens);
    if (!*tokens) return gpt_fail(err, "%s: out of memory", path);
    for (cJSON *it = (*root)->child; it; it = it->next) {
        double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
        if (v < 0 || v >= count || v != (double)(int)v)
            return gpt_fail(err, "%s: token '%.40s': id is not a whole number in [0, %d)", path, it->string, count);
        gguf_str *slot = &(*tokens)[(int)v];
        if (slot->ptr) return gpt_fail(err, "%s: id %d is given to two tokens", path, (int)v);
        slot->ptr = it->string;
        slot->len = strlen(it->string);
    }
    *n = (uint64_t)count;
    return 0;
}

// An optional "#version" line, then "LEFT RIGHT" per line.
static int read_merges_txt(const char *path, char **text, gguf_str **merges, uint64_t *n, char *err) {
    size_t len;
    if (read_file_all(path, MAX_TOKENIZER_FILE, text, &len, err) != 0) return -1;
    char *p = *text, *end = *text + len;
    if (len >= 9 && memcmp(p, "#version:", 9) == 0) {
        char *nl = memchr(p, '\n', len);
        p = nl ? nl + 1 : end;
    }
    for (char *line = p; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *stop = nl ? nl : end;
        size_t l = (size_t)(stop - line);
        if (l && line[l - 1] == '\r') l--;
        if (l) arrput(*merges, ((gguf_str){l, line}));
        line = stop + 1;
    }
    *n = (uint64_t)arrlen(*merges);
    return 0;
}

int tokenizer_from_files(gpt_tokenizer **out, const char *vocab_json, const char *merges_txt, char *err) {
    *out = NULL;
    cJSON *root = NULL;
    gguf_str *tokens = NULL, *merges = NULL;
    char *merges_text = NULL;
    uint64_t n_tokens = 0, n_merges = 0;
    int rc = read_vocab_json(vocab_json, &root, &tokens, &n_tokens, err);
    if (rc == 0) rc = read_merges_txt(merges_txt, &merges_text, &merges, &n_merges, err);
    if (rc == 0 && n_merges == 0) rc = gpt_fail(err, "%s: no merges", merges_txt);
    if (rc == 0) {
        tokenizer_spec s = {.kind = TOKENIZER_BPE, .pre = PRETOK_GPT2, .tokens = tokens, .n_vocab = n_tokens,
                            .merges = merges, .n_merges = n_merges, .bos = -1, .eos = -1, .eot = -1,
                            .eom = -1, .pad = -1, .unk = -1, .src = vocab_json, .tokens_key = "tokens",
                            .merges_key = "merges", .merges_src = merges_txt};
        s.eos = find_control(tokens, NULL, n_tokens, "<|endoftext|>");
        rc = tokenizer_build(out, &s, err);
    }
    cJSON_Delete(root);
    free(tokens);
    arrfree(merges);
    free(merges_text);
    return rc;
}

// ---- llama2.c's tokenizer.bin ------------------------------------------------------------

// int32 max_token_length, then per token: float32 score, int32 length,
// length bytes. Pieces have ' ' where SentencePiece has U+2581; ids 0, 1, 2
// are <unk>, BOS and EOS (run.c's fixed ids), <0xNN> are bytes. n_vocab: the
// model's count, or 0 to read tokens up to the end of the file.
typedef struct {
    gguf_str *tokens;  // U+2581 for spaces: stb_ds array of malloc'd strings
    float *scores;
    int32_t *types;
} llama2c_vocab;

static void llama2c_vocab_free(llama2c_vocab *v) {
    for (size_t i = 0; i < (size_t)arrlen(v->tokens); i++) free((char *)v->tokens[i].ptr);
    arrfree(v->tokens);
    arrfree(v->scores);
    arrfree(v->types);
}

static int llama2c_piece(llama2c_vocab *v, const uint8_t *p, uint32_t len, float score) {
    // llama2.c's export writes BOS and EOS as "\n<s>\n" and "\n</s>\n"; their names are
    // <unk>, <s> and </s> (as llama.cpp's convert-llama2c-to-ggml names them), so that
    // --special parses and prints them as every other Llama tokenizer does.
    static const char *const fixed[] = {"<unk>", "<s>", "</s>"};
    size_t at = (size_t)arrlen(v->tokens);
    if (at < 3) {
        p = (const uint8_t *)fixed[at];
        len = (uint32_t)strlen(fixed[at]);
    }
    size_t spaces = 0;
    for (uint32_t k = 0; k < len; k++) spaces += p[k] == ' ';
    char *s = malloc(len + 2 * spaces + 1), *q = s;
    if (!s) return -1;
    for (uint32_t k = 0; k < len; k++) {
        if (p[k] == ' ') {
            memcpy(q, "\xE2\x96\x81", 3);
            q += 3;
        } else {
            *q++ = (char)p[k];
        }
    }
    *q = 0;
    gguf_str str = {(uint64_t)(q - s), s};
    int id = (int)arrlen(v->tokens);
    int type = id == 0 ? TOKEN_UNKNOWN : id <= 2 ? TOKEN_CONTROL : TOKEN_NORMAL;
    if (len == 6 && memcmp(p, "<0x", 3) == 0 && p[5] == '>') type = TOKEN_BYTE;
    arrput(v->tokens, str);
    arrput(v->scores, score);
    arrput(v->types, type);
    return 0;
}

static int read_llama2c(llama2c_vocab *v, const char *path, int n_vocab, char *err) {
    mapped_file m;
    if (map_file(&m, path, err)) return -1;
    int rc = 0;
    size_t at = 4;
    uint32_t max_len = m.size >= 4 ? rd_u32(m.data) : 0;
    if (m.size < 4 || max_len == 0 || max_len > 65536)
        rc = gpt_fail(err, "%s: not a llama2.c tokenizer.bin (max_token_length %u)", path, max_len);
    while (rc == 0 && at < m.size && (n_vocab == 0 || arrlen(v->tokens) < n_vocab)) {
        int id = (int)arrlen(v->tokens);
        if (m.size - at < 8) {
            rc = gpt_fail(err, "%s: token %d: the file ends inside its score and length", path, id);
            break;
        }
        float score;
        memcpy(&score, m.data + at, 4);
        uint32_t len = rd_u32(m.data + at + 4);
        at += 8;
        if (len > max_len || len > m.size - at)
            rc = gpt_fail(err, "%s: token %d: length %u %s", path, id, len,
                          len > max_len ? "is above max_token_length" : "runs past the end of the file");
        else if (!(score == score) || score > 3.4e38f || score < -3.4e38f)
            rc = gpt_fail(err, "%s: token %d: score is not a finite number", path, id);
        else if (id >= (int)MAX_VOCAB)
            rc = gpt_fail(err, "%s: more than %u tokens", path, MAX_VOCAB);
        else if (llama2c_piece(v, m.data + at, len, score) != 0)
            rc = gpt_fail(err, "%s: out of memory", path);
        at += len;
    }
    if (rc == 0 && n_vocab && arrlen(v->tokens) < n_vocab)
        rc = gpt_fail(err, "%s: %d tokens, but the model has a vocabulary of %d", path, (int)arrlen(v->tokens),
                      n_vocab);
    if (rc == 0 && at != m.size)
        rc = gpt_fail(err, "%s: %zu bytes after the %d tokens the model has", path, m.size - at, n_vocab);
    if (rc == 0 && arrlen(v->tokens) < 3)
        rc = gpt_fail(err, "%s: %d tokens (need <unk>, BOS and EOS at least)", path, (int)arrlen(v->tokens));
    unmap_file(&m);
    return rc;
}

int tokenizer_gguf_from_llama2c(gguf_ctx *g, const char *path, int n_vocab, char *err) {
    llama2c_vocab v = {0};
    int rc = read_llama2c(&v, path, n_vocab, err);
    if (rc == 0) {
        uint64_t n = (uint64_t)arrlen(v.tokens);
        gguf_set_str(g, "tokenizer.ggml.model", "llama");
        gguf_set_arr_str(g, "tokenizer.ggml.tokens", v.tokens, n);
        gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, v.scores, n);
        gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v.types, n);
        gguf_set_uint32(g, "tokenizer.ggml.unknown_token_id", 0);
        gguf_set_uint32(g, "tokenizer.ggml.bos_token_id", 1);
        gguf_set_uint32(g, "tokenizer.ggml.eos_token_id", 2);
        gguf_set_bool(g, "tokenizer.ggml.add_bos_token", true);
        gguf_set_bool(g, "tokenizer.ggml.add_space_prefix", true);
    }
    llama2c_vocab_free(&v);
    return rc;
}

// ---- Hugging Face tokenizer.json -----------------------------------------------------------

// The pre-tokenizer patterns of the families gpt knows, as tokenizer.json writes them.
static const char LLAMA3_RE[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN2_RE[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                               "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const char *jstr(const cJSON *o, const char *key) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}
static bool jtype(const cJSON *o, const char *type) {
    const char *t = jstr(o, "type");
    return t && strcmp(t, type) == 0;
}
static bool jtrue(const cJSON *o, const char *key) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key)); }

// The steps of a Sequence (its "pretokenizers", "normalizers" or "decoders"), or the one step.
static int steps_of(const cJSON *o, const char *list_key, const cJSON **steps, int max) {
    if (!o || cJSON_IsNull(o)) return 0;
    if (jtype(o, "Sequence")) {
        int n = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, list_key)) {
            if (n == max) return -1;
            steps[n++] = e;
        }
        return n;
    }
    steps[0] = o;
    return 1;
}

static const char *split_regex(const cJSON *split) {
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(split, "pattern");
    return jstr(pat, "Regex");
}

// The byte-level pre-tokenizer of a tokenizer.json, or -1 with err naming what it is.
static int hf_pretok(const cJSON *root, const char *path, char *err) {
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), *st[4];
    int n = steps_of(pre, "pretokenizers", st, 4);
    char *desc = pre ? cJSON_PrintUnformatted(pre) : NULL;
    int k = -1;
    if (n == 1 && jtype(st[0], "ByteLevel") && !jtrue(st[0], "add_prefix_space") &&
        !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(st[0], "use_regex")))
        k = PRETOK_GPT2;
    else if (n == 2 && jtype(st[0], "Split") && jtype(st[1], "ByteLevel") && !jtrue(st[1], "add_prefix_space") &&
             cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(st[1], "use_regex")) && split_regex(st[0]) &&
             jstr(st[0], "behavior") && strcmp(jstr(st[0], "behavior"), "Isolated") == 0 && !jtrue(st[0], "invert"))
        k = strcmp(split_regex(st[0]), LLAMA3_RE) == 0 ? PRETOK_LLAMA3
            : strcmp(split_regex(st[0]), QWEN2_RE) == 0 ? PRETOK_QWEN2 : -1;
    else if (n == 2 && jtype(st[0], "Digits") && jtrue(st[0], "individual_digits") && jtype(st[1], "ByteLevel") &&
             !jtrue(st[1], "add_prefix_space") && !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(st[1], "use_regex")))
        k = PRETOK_SMOLLM;
    if (k < 0)
        gpt_fail(err, "%s: pre_tokenizer %.200s is not one gpt knows (known: %s)", path, desc ? desc : "null",
                 pretok_known_names());
    free(desc);
    return k;
}

// What the tokenizer.json's normalizer and pre-tokenizer say of SentencePiece
// text: spaces to U+2581 (required) and a U+2581 in front.
static int hf_spm_prefix(const cJSON *root, bool *prefix, const char *path, char *err) {
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer"),
                *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), *st[8];
    bool replace = false;
    *prefix = false;
    int n = steps_of(norm, "normalizers", st, 8);
    for (int i = 0; i < n; i++) {
        const char *c = jstr(st[i], "content");
        const char *pre_c = jstr(st[i], "prepend");
        if (jtype(st[i], "Prepend") && pre_c && strcmp(pre_c, "\xE2\x96\x81") == 0) {
            *prefix = true;
        } else if (jtype(st[i], "Replace") && c && strcmp(c, "\xE2\x96\x81") == 0 &&
                   jstr(cJSON_GetObjectItemCaseSensitive(st[i], "pattern"), "String") &&
                   strcmp(jstr(cJSON_GetObjectItemCaseSensitive(st[i], "pattern"), "String"), " ") == 0) {
            replace = true;
        } else {
            char *d = cJSON_PrintUnformatted(st[i]);
            gpt_fail(err, "%s: normalizer step %.200s is not one gpt knows for SentencePiece BPE", path, d ? d : "?");
            free(d);
            return -1;
        }
    }
    n = steps_of(pre, "pretokenizers", st, 8);
    for (int i = 0; i < n; i++) {
        const char *scheme = jstr(st[i], "prepend_scheme");
        if (jtype(st[i], "Metaspace") && !jtrue(st[i], "split")) {
            replace = true;
            if ((scheme && strcmp(scheme, "never") != 0) || (!scheme && jtrue(st[i], "add_prefix_space")))
                *prefix = true;
        } else {
            char *d = cJSON_PrintUnformatted(st[i]);
            gpt_fail(err, "%s: pre_tokenizer %.200s is not one gpt knows for SentencePiece BPE", path, d ? d : "?");
            free(d);
            return -1;
        }
    }
    if (!replace)
        return gpt_fail(err, "%s: normalizer: a SentencePiece BPE vocabulary (byte_fallback) without the "
                             "Replace(' ', U+2581) normalizer or a Metaspace pre-tokenizer", path);
    return 0;
}

typedef struct {
    cJSON *root, *config;  // tokenizer.json, tokenizer_config.json (or NULL)
    gguf_str *tokens;      // [n] pointing into root
    int32_t *types;
    float *scores;
    char **merge_buf;      // stb_ds: "LEFT RIGHT" strings made from array merges
    gguf_str *merges;
    uint64_t n, n_merges;
} hf_tok;

static void hf_tok_free(hf_tok *h) {
    cJSON_Delete(h->root);
    cJSON_Delete(h->config);
    free(h->tokens);
    free(h->types);
    free(h->scores);
    for (size_t i = 0; i < (size_t)arrlen(h->merge_buf); i++) free(h->merge_buf[i]);
    arrfree(h->merge_buf);
    free(h->merges);
}

static cJSON *read_json(const char *path, bool optional, char *err) {
    struct stat st;
    if (optional && stat(path, &st) != 0) return NULL;
    char *text;
    size_t len;
    if (read_file_all(path, MAX_TOKENIZER_FILE, &text, &len, err) != 0) return NULL;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        gpt_fail(err, "%s: not a JSON object", path);
        return NULL;
    }
    return j;
}

static bool whole_id(const cJSON *v, uint64_t limit, uint64_t *id) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= (double)limit ||
        v->valuedouble != (double)(uint64_t)v->valuedouble)
        return false;
    *id = (uint64_t)v->valuedouble;
    return true;
}

// model.vocab and added_tokens into tokens[] / types[]: ids dense from 0.
static int hf_vocab(hf_tok *h, const cJSON *model, bool spm, const char *path, char *err) {
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab"),
                *added = cJSON_GetObjectItemCaseSensitive(h->root, "added_tokens"), *e;
    if (!cJSON_IsObject(vocab)) return gpt_fail(err, "%s: model.vocab: not an object of token ids", path);
    if (added && !cJSON_IsArray(added)) return gpt_fail(err, "%s: added_tokens: not a list", path);
    uint64_t n = (uint64_t)cJSON_GetArraySize(vocab) + (uint64_t)cJSON_GetArraySize(added), max = 0, id = 0;
    cJSON_ArrayForEach(e, vocab) {
        if (!whole_id(e, MAX_VOCAB, &id)) return gpt_fail(err, "%s: model.vocab: '%.40s': not a valid id", path, e->string);
        max = id + 1 > max ? id + 1 : max;
    }
    cJSON_ArrayForEach(e, added) {
        if (!whole_id(cJSON_GetObjectItemCaseSensitive(e, "id"), MAX_VOCAB, &id) || !jstr(e, "content"))
            return gpt_fail(err, "%s: added_tokens: an entry without a valid id and content", path);
        max = id + 1 > max ? id + 1 : max;
    }
    if (max > n || max == 0)
        return gpt_fail(err, "%s: model.vocab: ids up to %llu for %llu tokens leave ids without a token", path,
                        (unsigned long long)max, (unsigned long long)n);
    h->n = max;
    h->tokens = calloc(max, sizeof *h->tokens);
    h->types = calloc(max, sizeof *h->types);
    if (!h->tokens || !h->types) return gpt_fail(err, "%s: out of memory", path);
    cJSON_ArrayForEach(e, vocab) {
        whole_id(e, MAX_VOCAB, &id);
        if (h->tokens[id].ptr)
            return gpt_fail(err, "%s: model.vocab: id %llu is given to two tokens", path, (unsigned long long)id);
        h->tokens[id] = (gguf_str){strlen(e->string), e->string};
        h->types[id] = TOKEN_NORMAL;
        if (spm && e->string[0] == '<' && strlen(e->string) == 6 && strncmp(e->string, "<0x", 3) == 0)
            h->types[id] = TOKEN_BYTE;
    }
    const char *unk = jstr(model, "unk_token");
    cJSON_ArrayForEach(e, added) {
        whole_id(cJSON_GetObjectItemCaseSensitive(e, "id"), MAX_VOCAB, &id);
        const char *c = jstr(e, "content");
        gguf_str *t = &h->tokens[id];
        if (t->ptr && (t->len != strlen(c) || memcmp(t->ptr, c, t->len) != 0))
            return gpt_fail(err, "%s: added_tokens: id %llu is '%.40s' but model.vocab has '%.*s'", path,
                            (unsigned long long)id, c, (int)(t->len > 40 ? 40 : t->len), t->ptr);
        *t = (gguf_str){strlen(c), c};
        h->types[id] = jtrue(e, "special") ? TOKEN_CONTROL : TOKEN_USER_DEFINED;
        if (unk && strcmp(unk, c) == 0) h->types[id] = TOKEN_UNKNOWN;
    }
    for (uint64_t i = 0; i < max; i++)
        if (!h->tokens[i].ptr) return gpt_fail(err, "%s: model.vocab: no token has id %llu", path, (unsigned long long)i);
    return 0;
}

// model.merges: "LEFT RIGHT" strings, or [LEFT, RIGHT] pairs (newer files).
static int hf_merges(hf_tok *h, const cJSON *model, const char *path, char *err) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(model, "merges"), *e;
    if (!cJSON_IsArray(m)) return gpt_fail(err, "%s: model.merges: missing or not a list", path);
    h->n_merges = (uint64_t)cJSON_GetArraySize(m);
    h->merges = calloc(h->n_merges + 1, sizeof *h->merges);
    if (!h->merges) return gpt_fail(err, "%s: out of memory", path);
    uint64_t i = 0;
    cJSON_ArrayForEach(e, m) {
        if (cJSON_IsString(e)) {
            h->merges[i++] = (gguf_str){strlen(e->valuestring), e->valuestring};
            continue;
        }
        const char *l = cJSON_GetStringValue(cJSON_GetArrayItem(e, 0)), *r = cJSON_GetStringValue(cJSON_GetArrayItem(e, 1));
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !l || !r)
            return gpt_fail(err, "%s: model.merges: merge %llu is neither \"LEFT RIGHT\" nor [LEFT, RIGHT]", path,
                            (unsigned long long)i);
        size_t nl = strlen(l), nr = strlen(r);
        char *s = malloc(nl + nr + 2);
        if (!s) return gpt_fail(err, "%s: out of memory", path);
        memcpy(s, l, nl);
        s[nl] = ' ';
        memcpy(s + nl + 1, r, nr + 1);
        arrput(h->merge_buf, s);
        h->merges[i++] = (gguf_str){nl + nr + 1, s};
    }
    return 0;
}

// A token named in tokenizer_config.json ("<s>" or {"content": "<s>"}) -> id, or -1.
static int32_t config_token(const hf_tok *h, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(h->config, key);
    const char *s = cJSON_IsString(v) ? v->valuestring : jstr(v, "content");
    if (!s) return -1;
    size_t len = strlen(s);
    for (uint64_t i = h->n; i-- > 0;)  // added tokens are usually last
        if (h->tokens[i].len == len && memcmp(h->tokens[i].ptr, s, len) == 0) return (int32_t)i;
    return -1;
}

// Whether the post-processor puts a special token before the text (the BOS).
static bool post_adds_bos(const cJSON *root, int32_t bos) {
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor"), *st[8];
    int n = steps_of(pp, "processors", st, 8);
    for (int i = 0; i < n; i++) {
        if (!jtype(st[i], "TemplateProcessing")) continue;
        const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(st[i], "single"), 0);
        if (cJSON_GetObjectItemCaseSensitive(first, "SpecialToken")) return bos >= 0;
    }
    return false;
}

// Scores for readers that have no merges (llama.cpp reads SentencePiece
// vocabularies by score): a merged piece scores minus the rank of the first
// merge that makes it, so higher scores go first as the merges' order says;
// other pieces score 0 (no merge makes them, so no score of theirs is read).
// gpt itself merges by the merges list when a file has one.
static int hf_scores(hf_tok *h, const char *path, char *err) {
    struct { char *key; int32_t value; } *map = NULL;
    sh_new_arena(map);
    h->scores = calloc(h->n + 1, sizeof *h->scores);
    if (!h->scores) return gpt_fail(err, "%s: out of memory", path);
    for (uint64_t i = 0; i < h->n; i++)
        if (h->types[i] == TOKEN_NORMAL) shput(map, h->tokens[i].ptr, (int32_t)i);
    for (uint64_t r = h->n_merges; r-- > 0;) {  // backwards: the first merge's rank stays
        gguf_str m = h->merges[r];
        char *joined = malloc(m.len + 1), *q = joined;
        if (!joined) {
            shfree(map);
            return gpt_fail(err, "%s: out of memory", path);
        }
        for (uint64_t k = 0; k < m.len; k++)
            if (m.ptr[k] != ' ') *q++ = m.ptr[k];
        *q = 0;
        ptrdiff_t at = shgeti(map, joined);
        if (at >= 0) h->scores[map[at].value] = -(float)r;
        free(joined);
    }
    shfree(map);
    return 0;
}

static int hf_read(hf_tok *h, gguf_ctx *g, const char *path, char *err) {
    if (!(h->root = read_json(path, false, err))) return -1;
    char cfg[4096];
    const char *slash = strrchr(path, '/');
    int w = slash ? snprintf(cfg, sizeof cfg, "%.*s/tokenizer_config.json", (int)(slash - path), path)
                  : snprintf(cfg, sizeof cfg, "tokenizer_config.json");
    if (w < 0 || (size_t)w >= sizeof cfg) return gpt_fail(err, "%s: path too long", path);
    err[0] = 0;
    h->config = read_json(cfg, true, err);
    if (!h->config && err[0]) return -1;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(h->root, "model");
    if (!jtype(model, "BPE"))
        return gpt_fail(err, "%s: model.type '%s' is not one gpt runs (BPE only)", path,
                        jstr(model, "type") ? jstr(model, "type") : "(missing)");
    bool spm = jtrue(model, "byte_fallback");
    if (hf_vocab(h, model, spm, path, err) || hf_merges(h, model, path, err)) return -1;
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(h->root, "normalizer");
    if (spm) {
        bool prefix;
        if (hf_spm_prefix(h->root, &prefix, path, err)) return -1;
        gguf_set_str(g, "tokenizer.ggml.model", "llama");
        gguf_set_bool(g, "tokenizer.ggml.add_space_prefix", prefix);
        if (hf_scores(h, path, err)) return -1;
        gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, h->scores, h->n);
    } else {
        int k = hf_pretok(h->root, path, err);
        if (k < 0) return -1;
        bool nfc = jtype(norm, "NFC");
        if ((norm && !cJSON_IsNull(norm) && !nfc) || nfc != (k == PRETOK_QWEN2)) {
            char *d = norm ? cJSON_PrintUnformatted(norm) : NULL;
            gpt_fail(err, "%s: normalizer %.100s with pre-tokenizer %s: gpt knows NFC with qwen2 and none otherwise",
                     path, d ? d : "null", pretok_name((pretok_kind)k));
            free(d);
            return -1;
        }
        if (jtrue(model, "ignore_merges") != (k == PRETOK_LLAMA3))
            return gpt_fail(err, "%s: model.ignore_merges is %s, which gpt knows only with llama-bpe", path,
                            jtrue(model, "ignore_merges") ? "true" : "false");
        gguf_set_str(g, "tokenizer.ggml.model", "gpt2");
        gguf_set_str(g, "tokenizer.ggml.pre", pretok_name((pretok_kind)k));
    }
    return 0;
}

// The keys of tokenizer.json into g, built once to check them (errors then name
// this file); the tokenizer goes to *built when it is not NULL, or is freed.
static int hf_to_gguf(gguf_ctx *g, const char *path, gpt_tokenizer **built, char *err) {
    hf_tok h = {0};
    int rc = hf_read(&h, g, path, err);
    if (rc == 0) {
        gguf_set_arr_str(g, "tokenizer.ggml.tokens", h.tokens, h.n);
        gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, h.types, h.n);
        gguf_set_arr_str(g, "tokenizer.ggml.merges", h.merges, h.n_merges);
        int32_t bos = config_token(&h, "bos_token"), eos = config_token(&h, "eos_token"),
                pad = config_token(&h, "pad_token"), unk = config_token(&h, "unk_token");
        if (bos >= 0) gguf_set_uint32(g, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
        if (eos >= 0) gguf_set_uint32(g, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
        if (pad >= 0) gguf_set_uint32(g, "tokenizer.ggml.padding_token_id", (uint32_t)pad);
        if (unk >= 0) gguf_set_uint32(g, "tokenizer.ggml.unknown_token_id", (uint32_t)unk);
        const cJSON *ab = cJSON_GetObjectItemCaseSensitive(h.config, "add_bos_token"),
                    *ae = cJSON_GetObjectItemCaseSensitive(h.config, "add_eos_token");
        gguf_set_bool(g, "tokenizer.ggml.add_bos_token", cJSON_IsBool(ab) ? cJSON_IsTrue(ab) && bos >= 0
                                                                          : post_adds_bos(h.root, bos));
        gguf_set_bool(g, "tokenizer.ggml.add_eos_token", cJSON_IsTrue(ae) && eos >= 0);
        const char *tmpl = jstr(h.config, "chat_template");
        if (tmpl) gguf_set_str(g, "tokenizer.chat_template", tmpl);
        gpt_tokenizer *t;
        rc = tokenizer_from_gguf(&t, g, err);
        if (rc != 0 && strstr(err, "(in-memory GGUF)")) {
            char tmp[GPT_ERR_LEN];
            snprintf(tmp, sizeof tmp, "%s%s", path, strstr(err, "(in-memory GGUF)") + 16);
            snprintf(err, GPT_ERR_LEN, "%s", tmp);
        }
        if (rc == 0 && built)
            *built = t;
        else if (rc == 0)
            tokenizer_free(t);
    }
    hf_tok_free(&h);
    return rc;
}

int tokenizer_gguf_from_hf(gguf_ctx *g, const char *path, char *err) { return hf_to_gguf(g, path, NULL, err); }

int tokenizer_build_gpt2(gpt_tokenizer **out, const gguf_str *tokens, const int32_t *types, uint64_t n_vocab,
                         const gguf_str *merges, uint64_t n_merges, const char *src, char *err) {
    tokenizer_spec s = {.kind = TOKENIZER_BPE, .pre = PRETOK_GPT2, .tokens = tokens, .n_vocab = n_vocab,
                        .types = types, .merges = merges, .n_merges = n_merges, .bos = -1, .eos = -1,
                        .eot = -1, .eom = -1, .pad = -1, .unk = -1, .src = src, .tokens_key = "tokens",
                        .merges_key = "merges"};
    if (n_vocab <= MAX_VOCAB) s.eos = find_control(tokens, types, n_vocab, "<|endoftext|>");
    return tokenizer_build(out, &s, err);
}

// ---- any tokenizer file ----------------------------------------------------------------

int tokenizer_open(gpt_tokenizer **out, const char *path, char *err) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return gpt_fail(err, "%s: no such file or directory", path);
    char buf[4096];
    if (S_ISDIR(st.st_mode)) {
        int w = snprintf(buf, sizeof buf, "%s/tokenizer.json", path);
        if (w < 0 || (size_t)w >= sizeof buf) return gpt_fail(err, "%s: path too long", path);
        return tokenizer_open(out, buf, err);
    }
    mapped_file m;
    if (map_file(&m, path, err)) return -1;
    uint8_t head[4] = {0};
    memcpy(head, m.data, m.size < 4 ? m.size : 4);
    size_t i = 0;
    while (i < m.size && i < 64 && (m.data[i] == ' ' || m.data[i] == '\n' || m.data[i] == '\r' || m.data[i] == '\t'))
        i++;
    bool json = i < m.size && (m.data[i] == '{' || m.data[i] == '[');
    unmap_file(&m);
    if (memcmp(head, "GGUF", 4) == 0) {
        gguf_ctx *g;
        if (gguf_open(&g, path, err)) return -1;
        int rc = tokenizer_from_gguf(out, g, err);
        gguf_free(g);
        return rc;
    }
    gguf_ctx *g = gguf_new();
    if (!g) return gpt_fail(err, "%s: out of memory", path);
    int rc = json ? hf_to_gguf(g, path, out, err) : tokenizer_gguf_from_llama2c(g, path, 0, err);
    if (rc == 0 && !json) rc = tokenizer_from_gguf(out, g, err);
    gguf_free(g);
    return rc;
}
