#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every long option a program's --help shows has an entry of its own (a line right after .TP or .TQ)
in the OPTIONS section of its manual page, so the page cannot fall behind the program.

Usage: man-options.py PROGRAM PAGE"""

import re
import subprocess
import sys

program, page = sys.argv[1], sys.argv[2]
help_text = subprocess.run([program, '--help'], capture_output=True, text=True, check=True).stdout
options = sorted(set(re.findall(r'(?<![\w-])(--[a-z][a-z0-9-]*)', help_text)))

with open(page, encoding='utf-8') as f:
    text = f.read().replace('\\-', '-')
start = text.index('.SH OPTIONS')
end = text.find('\n.SH ', start + 1)
lines = text[start:end if end > 0 else None].split('\n')
entries = set()
for i, line in enumerate(lines[:-1]):
    if line in ('.TP', '.TQ'):
        entries.update(re.findall(r'(?<![\w-])(--[a-z][a-z0-9-]*)', lines[i + 1]))

missing = [o for o in options if o not in entries]
if not options:
    sys.exit(f'{program} --help shows no options')
for o in missing:
    print(f'{page}: {o} (in {program} --help) has no entry under OPTIONS')
print(f'{len(options) - len(missing)} of {len(options)} options documented')
sys.exit(1 if missing else 0)
