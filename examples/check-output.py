#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs an example and checks it prints exactly the expected text."""
import os
import subprocess
import sys

command, expected = sys.argv[1:-1], sys.argv[-1]
# g_print() converts to the locale's charset: pin a UTF-8 one.
env = dict(os.environ, LC_ALL="C.UTF-8")
result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                        env=env, encoding="utf-8")
# Anything on stderr (a warning, a critical) is a failure too.
if result.returncode != 0 or result.stdout != expected or result.stderr:
    print(f"command: {command}\nexit code: {result.returncode}\n"
          f"expected:\n{expected}\ngot:\n{result.stdout}\nstderr:\n{result.stderr}")
    sys.exit(1)
