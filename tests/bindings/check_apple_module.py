#!/usr/bin/env python3
"""What can be checked of the Swift package on a machine without a Swift toolchain: that
libsouk's public headers compile as the clang module Swift imports, and import into Swift
with every pointer's nullability known.

  check_apple_module.py CLANG INCLUDE_DIR APPLE_DIR WORK_DIR

1. The xcframework's module map (APPLE_DIR/xcframework/module.modulemap) over a copy of the
   public headers, laid out as in Souk.xcframework (Headers/module.modulemap, Headers/souk/),
   builds as a clang module in C and in Objective-C (the mode Swift's importer uses), with
   -Werror and -Wnullability-completeness, -Wincomplete-umbrella (every public header must be
   reachable from souk/souk.h) and local submodule visibility (each header is its own submodule and must include what it uses).
2. Each public header imports alone as its submodule (@import CSouk.<header>).
3. The Swift package's own module map (APPLE_DIR/Sources/CSouk/module.modulemap, used with an
   installed libsouk) builds and imports the same way.
4. On clang's AST of souk/souk.h: every pointer in every souk_ function, function-pointer
   typedef and struct field carries _Nonnull or _Nullable (written, or inferred inside
   SOUK_ASSUME_NONNULL_BEGIN/END). -Wnullability-completeness only complains about headers
   that annotate some pointers; this catches a header that annotates none.
Each check is first shown to fail on a deliberately broken header (negative controls), so a
check that silently passes everything cannot go unnoticed.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

CLANG, INCLUDE_DIR, APPLE_DIR, WORK = sys.argv[1:5]

WARN = ["-Werror", "-Wall", "-Wextra", "-Wnullability-completeness",
        "-Wnullability-completeness-on-arrays", "-Wincomplete-umbrella"]
# Not -Wnon-modular-include-in-module: glibc's headers are not modular, so <stdint.h> would
# trip it here; Apple's SDK headers are modular.

failures = []


def run(args, expect_ok=True, what=""):
    r = subprocess.run(args, capture_output=True, text=True)
    ok = r.returncode == 0
    if ok != expect_ok:
        failures.append("%s: expected %s, got exit %d\n  %s\n%s%s" % (
            what, "success" if expect_ok else "failure", r.returncode, " ".join(args),
            r.stdout[-3000:], r.stderr[-3000:]))
    return r


def layout(dest, headers_from, extra=None):
    """Headers/module.modulemap + Headers/souk/*.h, as inside Souk.xcframework."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(os.path.join(dest, "Headers", "souk"))
    for h in glob.glob(os.path.join(headers_from, "souk", "*.h")):
        shutil.copy(h, os.path.join(dest, "Headers", "souk"))
    shutil.copy(os.path.join(APPLE_DIR, "xcframework", "module.modulemap"),
                os.path.join(dest, "Headers", "module.modulemap"))
    for name, text in (extra or {}).items():
        with open(os.path.join(dest, "Headers", "souk", name), "w") as f:
            f.write(text)
    return os.path.join(dest, "Headers")


def module_flags(headers, cache):
    return ["-fsyntax-only", "-fmodules", "-fmodules-cache-path=" + cache,
            "-Xclang", "-fmodules-local-submodule-visibility",
            "-fmodule-map-file=" + os.path.join(headers, "module.modulemap"), "-I", headers]


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


USE_C = """#include <souk/souk.h>
int main(void)
{
	souk_client_options o;
	souk_client *c = 0;
	if (souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION) != SOUK_OK)
		return 1;
	(void)souk_client_create(&c, &o);
	souk_client_free(c);
	return souk_version_number() == SOUK_VERSION_NUMBER ? 0 : 1;
}
"""
USE_OBJC = "@import CSouk;\n" + USE_C.split("\n", 1)[1]


def check_module(headers, tag, expect_ok=True):
    cache = os.path.join(WORK, "cache-" + tag)
    shutil.rmtree(cache, ignore_errors=True)
    c = write(os.path.join(WORK, tag + "-use.c"), USE_C)
    m = write(os.path.join(WORK, tag + "-use.m"), USE_OBJC)
    run([CLANG, "-x", "c", "-std=c11"] + WARN + module_flags(headers, cache) + [c],
        expect_ok, "%s: C with -fmodules" % tag)
    run([CLANG, "-x", "objective-c"] + WARN + module_flags(headers, cache) + [m],
        expect_ok, "%s: Objective-C @import CSouk" % tag)


# ---- 1, 2: the xcframework layout -----------------------------------------------------------
os.makedirs(WORK, exist_ok=True)
headers = layout(os.path.join(WORK, "xcf"), INCLUDE_DIR)
check_module(headers, "xcf")
names = sorted(os.path.basename(h)[:-2] for h in glob.glob(os.path.join(INCLUDE_DIR, "souk", "*.h")))
submodules = [n for n in names if n != "souk"]  # the umbrella is the top module itself
for n in submodules:
    src = write(os.path.join(WORK, "sub-%s.m" % n), "@import CSouk.%s;\nint main(void) { return 0; }\n" % n)
    run([CLANG, "-x", "objective-c"] + WARN + module_flags(headers, os.path.join(WORK, "cache-xcf")) + [src],
        True, "@import CSouk.%s (the header alone, as a submodule)" % n)

# ---- 3: the package's systemLibrary module map over the source tree ---------------------------
cache = os.path.join(WORK, "cache-pkg")
shutil.rmtree(cache, ignore_errors=True)
src = write(os.path.join(WORK, "pkg-use.m"), USE_OBJC)
run([CLANG, "-x", "objective-c", "-fsyntax-only", "-fmodules", "-fmodules-cache-path=" + cache]
    + WARN + ["-fmodule-map-file=" + os.path.join(APPLE_DIR, "Sources", "CSouk", "module.modulemap"),
              "-I", INCLUDE_DIR, src], True, "Sources/CSouk/module.modulemap: @import CSouk")


# ---- 4: every pointer annotated, on the AST --------------------------------------------------
DECL = re.compile(r"^[| `]*-(FunctionDecl|TypedefDecl|FieldDecl|RecordDecl) 0x[0-9a-f]+ .*?"
                  r"(?: (\w+) '([^']*)'(?::'[^']*')?| (?:struct|union) (\w+) definition)\s*$")
PTR = re.compile(r"\*(?:\s*const)?(?!\s*(?:const\s*)?_(?:Nonnull|Nullable)\b)")


def unannotated(header_dir):
    r = subprocess.run([CLANG, "-Xclang", "-ast-dump", "-fsyntax-only", "-x", "c", "-std=c11",
                        "-I", header_dir, os.path.join(header_dir, "souk", "souk.h")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return ["clang -ast-dump failed: " + r.stderr[-2000:]]
    bad, record = [], None
    for line in r.stdout.splitlines():
        m = DECL.match(line)
        if not m:
            continue
        kind, name, typ, rec = m.groups()
        if kind == "RecordDecl":
            record = rec
            continue
        if kind == "FieldDecl":
            if record and record.startswith("souk_") and PTR.search(typ):
                bad.append("%s.%s: %s" % (record, name, typ))
            continue
        if name and name.startswith("souk_"):
            # a function-pointer typedef's own star, "(*)", is annotated where it is used
            if PTR.search(typ.replace("(*)", "()")):
                bad.append("%s: %s" % (name, typ))
    return bad


bad = unannotated(INCLUDE_DIR)
if bad:
    failures.append("pointers without nullability (Swift would import them as implicitly "
                    "unwrapped optionals):\n  " + "\n  ".join(bad))
decls = sum(1 for _ in re.finditer(r"SOUK_API", "".join(
    open(h).read() for h in glob.glob(os.path.join(INCLUDE_DIR, "souk", "*.h")))))
if decls < 60:
    failures.append("only %d SOUK_API declarations found: is INCLUDE_DIR right?" % decls)

# ---- negative controls: each check fails on a broken header ----------------------------------
NOT_IN_UMBRELLA = '#include "souk/common.h"\nSOUK_API int souk_orphan(void);\n'
PARTLY = ('#include "souk/common.h"\nSOUK_API int souk_partly(const char *_Nullable a, '
          'const char *b);\n')
UNMARKED = '#include "souk/common.h"\nSOUK_API int souk_unmarked(const char *a);\n'
h = layout(os.path.join(WORK, "neg-umbrella"), INCLUDE_DIR, {"orphan.h": NOT_IN_UMBRELLA})
check_module(h, "neg-umbrella", expect_ok=False)
for tag, text in (("neg-partly", PARTLY), ("neg-unmarked", UNMARKED)):
    d = layout(os.path.join(WORK, tag), INCLUDE_DIR, {tag + ".h": text})
    with open(os.path.join(d, "souk", "souk.h")) as f:
        umbrella = f.read()
    write(os.path.join(d, "souk", "souk.h"),
          umbrella.replace('#include "souk/client.h"',
                           '#include "souk/client.h"\n#include "souk/%s.h"' % tag))
    if tag == "neg-partly":
        check_module(d, tag, expect_ok=False)
    if not unannotated(d):
        failures.append("negative control: the AST check missed the unannotated pointer in %s.h" % tag)

for f in failures:
    print("FAIL", f)
print("apple module checks: %d header(s), %s" % (len(names), "ok" if not failures else "FAILED"))
sys.exit(1 if failures else 0)
