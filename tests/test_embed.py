#!/usr/bin/python3
"""Embedding gpt in a C program (README, "Embedding it in a C program"):
  - `cmake --install BUILD --prefix DIR` puts the tool, libgpt.a, gpt.h and gpt.pc under DIR;
  - tests/example_api.c compiles with -Wall -Wextra -Werror against that tree alone, with the
    flags `pkg-config --cflags --libs gpt` gives, and links (a library that needs a symbol
    the .pc file does not name fails here);
  - it writes byte for byte what `gpt -m MODEL -p PROMPT -n N` writes with the same (default)
    sampler settings, for an ASCII and a UTF-8 prompt, and the same text on a second run;
  - a missing model file is one line naming the file on stderr and exit status 1;
  - the README shows the program as it is in tests/ (from its first #include to the end).
Usage: test_embed.py GPT BUILD_DIR WORK_DIR CC [EXTRA_CFLAGS]"""
import os
import shutil
import subprocess
import sys

from checks import check, counts

gpt, build, work, cc = sys.argv[1:5]
extra = [f for f in sys.argv[5:] if f]  # -fsanitize=... in the sanitizer build
src = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(src)
model = os.path.join(root, "models", "shakespeare.gguf")
example = os.path.join(src, "example_api.c")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=300, **kw)


shutil.rmtree(work, ignore_errors=True)
prefix = os.path.join(work, "prefix")
p = run(["cmake", "--install", build, "--prefix", prefix])
if p.returncode != 0:
    print("FAIL: cmake --install:", p.stdout.decode()[-500:], p.stderr.decode()[-500:])
    sys.exit(1)
for f in ["bin/gpt", "lib/libgpt.a", "include/gpt.h", "lib/pkgconfig/gpt.pc"]:
    check(os.path.isfile(os.path.join(prefix, f)), f"cmake --install did not write {f}")

env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
p = run(["pkg-config", "--cflags", "--libs", "gpt"], env=env)
check(p.returncode == 0, f"pkg-config --cflags --libs gpt: {p.stderr.decode()!r}")
flags = p.stdout.decode().split()
check(any(f.startswith("-I") and os.path.realpath(f[2:]) == os.path.realpath(os.path.join(prefix, "include"))
          for f in flags), f"pkg-config's flags {flags} do not name {prefix}/include")

exe = os.path.join(work, "example_api")
# the source tree's headers are not on the path: only the installed gpt.h can be found
p = run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", *extra, example, *flags, "-o", exe])
check(p.returncode == 0, f"example_api.c does not build against the installed tree: {p.stderr.decode()[-1500:]}")
if p.returncode != 0:
    print("0 passed, 1 failed")
    sys.exit(1)

for prompt, n in [("ROMEO:", "60"), ("Wherefore art thou, \u00e9t\u00e9 \u2014", "40")]:
    ex = run([exe, model, prompt, n])
    check(ex.returncode == 0, f"example_api exited {ex.returncode}: {ex.stderr.decode()[-300:]!r}")
    cli = run([gpt, "-m", model, "-p", prompt, "-n", n])
    check(cli.returncode == 0, f"gpt exited {cli.returncode}")
    check(ex.stdout == cli.stdout, f"example_api and gpt wrote different text for {prompt!r}:\n"
          f"{ex.stdout[:200]!r}\n{cli.stdout[:200]!r}")
    check(len(ex.stdout) > len(prompt.encode()) + 20, f"example_api wrote only {ex.stdout!r}")
    again = run([exe, model, prompt, n])
    check(again.stdout == ex.stdout, "example_api gave other text on a second run")

bad = run([exe, os.path.join(work, "no-such-model.gguf"), "x"])
err = bad.stderr.decode()
check(bad.returncode == 1, f"a missing model: exit status {bad.returncode}")
check(err.startswith("example_api: ") and "no-such-model.gguf" in err and err.count("\n") == 1,
      f"a missing model: stderr {err!r}")

with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
    readme = f.read()
with open(example, encoding="utf-8") as f:
    code = f.read()
body = code[code.index("#include"):]
check(body in readme, "README.md does not show tests/example_api.c as it is (from its first #include)")

checks, failures = counts()
print(f"{checks - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
