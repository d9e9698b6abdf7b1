#!/usr/bin/python3
"""test_cli_errors.py GPT_BIN MAKE_SEEDS

Runtime input to `gpt` (issue 7, part 3), on tiny GGUF models written by
make_seeds (tests/fuzz/tiny_models.c):

  - bad flag values (-t, -n, -c, --temp, --top-p, --top-k, --min-p,
    --repeat-penalty, -s, --kv-type), an unknown flag, a flag without its value, a
    missing model, a file that is not a model: exit code 1 and exactly one
    line "gpt: ..." on stderr, nothing on stdout;
  - gpt convert: an output path that cannot be created is one line before
    any conversion; a failed convert leaves no file; progress (converting,
    then writing) into a pipe is whole lines;
  - a prompt longer than the context: one clear line, exit 1;
  - generation that reaches the context limit stops with a message, exit 0;
  - an empty prompt (and no prompt) works;
  - `gpt ... | head -c 10` ends quietly: exit 0, no error on stderr;
  - SIGINT (Ctrl-C) during a long generation stops it; the stats line is
    still printed and the exit code is 130 (or 0).

Ends with "N passed, M failed"; exit status 1 on any failure.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

passed = failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}" + (f"\n      {detail}" if detail else ""))


def run(args, timeout=120, **kw):
    return subprocess.run(args, capture_output=True, timeout=timeout, **kw)


def stderr_lines(p):
    return [l for l in p.stderr.decode("utf-8", "replace").split("\n") if l]


def expect_user_error(gpt, args, what, must_contain=None):
    """exit 1, one 'gpt: ' line on stderr, nothing on stdout"""
    p = run([gpt] + args)
    lines = stderr_lines(p)
    ok = p.returncode == 1 and len(lines) == 1 and lines[0].startswith("gpt: ") and p.stdout == b""
    if ok and must_contain:
        ok = must_contain in lines[0]
    check(ok, f"{what}: gpt {' '.join(args)}",
          f"exit {p.returncode}, stdout {p.stdout[:80]!r}, stderr {lines}")
    return lines


STATS = re.compile(r"^gpt: load \d+ ms \| prompt \d+ tokens, [\d.]+ tok/s \| generated (\d+) tokens, [\d.]+ tok/s")


def main():
    gpt, make_seeds = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="gpt-cli-")
    small = os.path.join(tmp, "small.gguf")    # context 64
    big = os.path.join(tmp, "big.gguf")        # context 65536: generation runs for a long time
    for path, n_ctx in ((small, 64), (big, 65536)):
        subprocess.run([make_seeds, "gguf", path, str(n_ctx)], check=True)
    garbage = os.path.join(tmp, "garbage.gguf")
    with open(garbage, "wb") as f:
        f.write(b"GGUF\x03\x00\x00\x00" + bytes(range(256)) * 4)
    base = ["-m", small, "-t", "1", "--temp", "0"]

    # ---- flags ----
    bad_values = [
        (["-t", "0"], "-t 0"), (["-t", "-1"], "-t -1"), (["-t", "100000"], "-t too many"),
        (["-t", "two"], "-t not a number"), (["-n", "-2"], "-n -2"), (["-n", "1e3"], "-n not whole"),
        (["-n", "99999999999999999999"], "-n overflow"), (["-c", "-1"], "-c -1"),
        (["-c", "99999999"], "-c above any context"), (["-c", "65"], "-c above the model's context"),
        (["--temp", "-0.5"], "--temp negative"), (["--temp", "nan"], "--temp nan"),
        (["--temp", "inf"], "--temp inf"), (["--top-p", "0"], "--top-p 0"), (["--top-p", "1.5"], "--top-p 1.5"),
        (["--top-p", "-1"], "--top-p -1"), (["--top-k", "-1"], "--top-k -1"), (["--min-p", "2"], "--min-p 2"),
        (["--repeat-penalty", "0"], "--repeat-penalty 0"), (["-s", "-1"], "-s negative"),
        (["--repeat-last-n", "-2"], "--repeat-last-n -2"), (["--probs", "1000"], "--probs 1000"),
        (["--kv-type", "q8_0"], "--kv-type q8_0"), (["--kv-type", "F16"], "--kv-type F16 (the names are lower case)"),
    ]
    for extra, what in bad_values:
        expect_user_error(gpt, base + ["-p", "the"] + extra, what)
    expect_user_error(gpt, base + ["--bogus"], "unknown flag", "--bogus")
    expect_user_error(gpt, base + ["-p"], "flag without a value", "-p")
    expect_user_error(gpt, ["-p", "the"], "no model")
    expect_user_error(gpt, ["-m", os.path.join(tmp, "nope.gguf"), "-p", "x"], "missing model", "nope.gguf")
    expect_user_error(gpt, ["-m", garbage, "-p", "x"], "garbage model", "garbage.gguf")
    expect_user_error(gpt, ["-m", tmp, "-p", "x"], "directory that is not a model", tmp)
    expect_user_error(gpt, base + ["-f", os.path.join(tmp, "no-prompt.txt")], "missing prompt file", "no-prompt.txt")

    # ---- gpt convert ----
    # an output path that cannot be created fails before the conversion (one line: no progress)
    expect_user_error(gpt, ["convert", small, os.path.join(tmp, "no-such-dir", "out.gguf"), "--type", "q8_0"],
                      "convert into a missing directory", "no-such-dir")
    out = os.path.join(tmp, "out.gguf")
    expect_user_error(gpt, ["convert", os.path.join(tmp, "nope.gguf"), out], "convert a missing model", "nope.gguf")
    check(not os.path.exists(out) and not os.path.exists(out + ".tmp"), "a failed convert left a file behind")
    # progress into a pipe: whole lines, no carriage returns, converting then writing, each to 100%
    p = run([gpt, "convert", small, out, "--type", "q8_0"])
    err = p.stderr.decode("utf-8", "replace")
    lines = stderr_lines(p)
    converting = [l for l in lines if l.startswith("gpt: converting")]
    writing = [l for l in lines if l.startswith("gpt: writing")]
    check(p.returncode == 0 and "\r" not in err and converting and converting[-1] == "gpt: converting 100%"
          and writing and writing[-1] == "gpt: writing 100%" and lines.index(converting[-1]) < lines.index(writing[0])
          and lines[-1] == f"gpt: wrote {out}", "gpt convert's progress into a pipe", repr(err))

    # ---- a prompt longer than the context ----
    lines = expect_user_error(gpt, base + ["-c", "8", "-p", "the " * 20], "prompt longer than -c")
    check(lines and "context" in lines[0], "the long-prompt message mentions the context", str(lines))
    expect_user_error(gpt, base + ["-p", "a b c d e f g h " * 10], "prompt longer than the model's context")

    # ---- the context limit ----
    p = run([gpt] + base + ["-c", "16", "-n", "100", "--ignore-eos", "-p", "the"])
    lines = stderr_lines(p)
    check(p.returncode == 0, "generation to the context limit exits 0", f"exit {p.returncode}, {lines}")
    check(any("context" in l and "full" in l for l in lines), "the context-limit stop is reported", str(lines))
    m = [STATS.match(l) for l in lines if STATS.match(l)]
    check(len(m) == 1 and int(m[0].group(1)) <= 16, "stats line after the context limit", str(lines))

    # ---- empty prompt, no prompt ----
    for extra, what in ((["-p", ""], "empty prompt"), ([], "no prompt")):
        p = run([gpt] + base + extra + ["-n", "5"])
        lines = stderr_lines(p)
        check(p.returncode == 0 and len(lines) == 1 and STATS.match(lines[0]), f"{what} works",
              f"exit {p.returncode}, {lines}")

    # ---- a closed pipe ----
    gen = subprocess.Popen([gpt, "-m", big, "-t", "1", "-p", "the", "-n", "50000", "--ignore-eos"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-c", "10"], stdin=gen.stdout, stdout=subprocess.PIPE)
    gen.stdout.close()
    out = head.communicate(timeout=120)[0]
    err = gen.stderr.read().decode("utf-8", "replace")
    rc = gen.wait(timeout=120)
    lines = [l for l in err.split("\n") if l]
    check(len(out) == 10, "head got 10 bytes", repr(out))
    check(rc == 0, "gpt | head -c 10: gpt exits 0", f"exit {rc}")
    check(all(STATS.match(l) for l in lines) and len(lines) <= 1, "gpt | head -c 10: no error messages", str(lines))
    m = [STATS.match(l) for l in lines if STATS.match(l)]
    check(m and int(m[0].group(1)) < 50000, "gpt | head -c 10: generation stopped early", str(lines))

    # ---- Ctrl-C ----
    gen = subprocess.Popen([gpt, "-m", big, "-t", "1", "-p", "the", "-n", "100000", "--ignore-eos"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = b""
    while len(got) < 40:  # the prompt echo and some generated text: decoding has started
        chunk = os.read(gen.stdout.fileno(), 4096)
        if not chunk:
            break
        got += chunk
    time.sleep(0.2)
    gen.send_signal(signal.SIGINT)
    try:
        rest, err = gen.communicate(timeout=60)
        rc = gen.returncode
    except subprocess.TimeoutExpired:
        gen.kill()
        rest, err = gen.communicate()
        rc = "timeout"
    lines = [l for l in err.decode("utf-8", "replace").split("\n") if l]
    check(rc in (0, 130), "SIGINT: exit code 130 (or 0)", f"exit {rc}")
    m = [STATS.match(l) for l in lines if STATS.match(l)]
    check(len(m) == 1 and int(m[0].group(1)) < 100000, "SIGINT: the stats line is printed", str(lines))
    check(any("interrupt" in l for l in lines), "SIGINT: the stop is reported as an interruption", str(lines))
    check(len(lines) == 1, "SIGINT: no other messages", str(lines))

    for f in os.listdir(tmp):
        os.remove(os.path.join(tmp, f))
    os.rmdir(tmp)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
