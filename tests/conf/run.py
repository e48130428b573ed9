#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Runs the config cases of tests/conf against a checker command.

    run.py [--update] [--only NAME] -- CMD [ARG...]

For each NAME.conf here, the file is copied into a fresh private directory (mode 0600
unless a directive says otherwise) and `CMD ARG... DIR/NAME.conf` is run. Its stderr, with
"DIR/" removed, must equal NAME.expected line for line, and its exit status must be 1;
or, when NAME.expected is "OK", it must print nothing at all and exit 0. The shipped
conf/cmkd.conf is checked the same way and must be OK. See README for directives.
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
TIMEOUT = 20


def directives(text):
    """'# case: WORD ARGS' lines: a list of (word, args)."""
    out = []
    for line in text.splitlines():
        if line.startswith("# case:"):
            words = line[len("# case:"):].split(None, 1)
            if not words:
                raise ValueError("empty '# case:' directive")
            out.append((words[0], words[1].strip() if len(words) > 1 else ""))
    return out


def prepare(name, data, tmp):
    """Creates tmp/name as the case asks. Returns (path, extra environment)."""
    path = os.path.join(tmp, name)
    env = {}
    mode = 0o600
    kind = "file"
    for word, args in directives(data.decode("utf-8", "replace")):
        if word == "mode":
            mode = int(args, 8)
        elif word == "size":
            want = int(args)
            if len(data) > want:
                raise ValueError(f"{name}: already {len(data)} bytes, more than size {want}")
            pad = want - len(data)
            # Comment lines of at most 80 bytes; the last one takes what is left.
            chunks = []
            while pad > 0:
                n = min(pad, 80)
                chunks.append(b"#" * (n - 1) + b"\n" if n > 1 else b"\n")
                pad -= n
            data += b"".join(chunks)
            assert len(data) == want
        elif word == "env":
            key, sep, value = args.partition("=")
            if not sep:
                raise ValueError(f"{name}: env needs NAME=VALUE")
            env[key] = value
        elif word in ("directory", "fifo", "symlink"):
            kind = word
        else:
            raise ValueError(f"{name}: unknown directive '{word}'")
    if kind == "directory":
        os.mkdir(path, 0o700)
    elif kind == "fifo":
        os.mkfifo(path, 0o600)
    else:
        target = path if kind == "file" else os.path.join(tmp, "target-" + name)
        with open(target, "wb") as f:
            f.write(data)
        os.chmod(target, mode)
        if kind == "symlink":
            os.symlink(os.path.basename(target), path)
    return path, env


def run_case(name, data, expected, cmd, update):
    tmp = tempfile.mkdtemp(prefix="cmkd-conf-case.")
    try:
        os.chmod(tmp, 0o700)
        path, extra = prepare(name, data, tmp)
        env = {k: v for k, v in os.environ.items() if k not in ("STATE_DIRECTORY", "AZURE_FEDERATED_TOKEN_FILE")}
        env.update(extra)
        try:
            p = subprocess.run(cmd + [path], capture_output=True, env=env, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return f"{name}: no answer within {TIMEOUT}s"
        stderr = p.stderr.decode("utf-8", "replace").replace(tmp + "/", "")
        stdout = p.stdout.decode("utf-8", "replace")
    finally:
        shutil.rmtree(tmp)

    got = "OK\n" if p.returncode == 0 and not stderr and not stdout else stderr
    if update:
        return got
    problems = []
    if expected == "OK\n":
        if p.returncode != 0 or stderr or stdout:
            problems.append(f"want OK (exit 0, no output), got exit {p.returncode}")
    else:
        if p.returncode != 1:
            problems.append(f"want exit 1, got {p.returncode}")
        if stdout:
            problems.append(f"unexpected stdout: {stdout!r}")
    if got != expected:
        problems.append("stderr differs:\n--- want\n" + expected + "--- got\n" + got + "---")
    return "\n".join(f"{name}: {x}" for x in problems) or None


def main(argv):
    update = False
    only = None
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    opts, cmd = argv[1:argv.index("--")], argv[argv.index("--") + 1:]
    while opts:
        o = opts.pop(0)
        if o == "--update":
            update = True
        elif o == "--only" and opts:
            only = opts.pop(0)
        else:
            print(f"run.py: unknown option {o}", file=sys.stderr)
            return 2
    if not cmd:
        print("run.py: no checker command after --", file=sys.stderr)
        return 2
    if not os.access(cmd[0], os.X_OK):
        print(f"run.py: checker {cmd[0]} is missing or not executable (build it first)", file=sys.stderr)
        return 2

    names = sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".conf"))
    orphans = sorted(f for f in os.listdir(HERE) if f.endswith(".expected") and f[:-9] not in names)
    failures = [f"{o}: no matching .conf" for o in orphans]
    cases = [(n + ".conf", os.path.join(HERE, n + ".conf"), os.path.join(HERE, n + ".expected")) for n in names]
    cases.append(("cmkd.conf", os.path.join(TOP, "conf", "cmkd.conf"), None))
    ran = 0
    for name, src, exp_path in cases:
        if only and name != only and name != only + ".conf":
            continue
        with open(src, "rb") as f:
            data = f.read()
        if exp_path is None:
            expected = "OK\n"
        elif os.path.exists(exp_path):
            with open(exp_path, encoding="utf-8") as f:
                expected = f.read()
        elif update:
            expected = ""
        else:
            failures.append(f"{name}: {os.path.basename(exp_path)} is missing")
            continue
        try:
            result = run_case(name, data, expected, cmd, update)
        except ValueError as e:
            failures.append(str(e))
            continue
        ran += 1
        if update:
            if exp_path is None:
                if result != expected:
                    failures.append(f"{name}: want OK, got:\n{result}")
            elif result != expected:
                with open(exp_path, "w", encoding="utf-8") as f:
                    f.write(result)
                print(f"updated {os.path.basename(exp_path)}")
        elif result:
            failures.append(result)
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    print(f"config cases: {ran} run, {len(failures)} failed")
    return 1 if failures or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
