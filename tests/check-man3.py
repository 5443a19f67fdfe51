#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libmbus(3) cannot drift from the header: every symbol libmbus.sym exports has a section-3
page named after it (the page itself, or a .so link to the page of its group, as meson
generates them), that page names the function in its NAME section, and the prototype in the
page's SYNOPSIS is the header's, token for token (whitespace and __attribute__s aside).

Usage: check-man3.py SOURCE_ROOT BUILD_MAN_DIR
Exits 0 if all holds, 1 listing every mismatch.
"""

import os
import re
import sys


def normalize(proto):
    proto = re.sub(r'__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)', '', proto)
    proto = re.sub(r'\s+', ' ', proto).strip()
    proto = re.sub(r'\s*([(),*;])\s*', r'\1', proto)
    return proto.rstrip(';')


def header_prototypes(paths, names):
    """name -> normalized prototype, for every function the headers declare."""
    found = {}
    for path in paths:
        with open(path) as f:
            text = f.read()
        text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
        text = re.sub(r'^\s*#.*$', ' ', text, flags=re.M)
        # Statements end at ';', '{' or '}': a prototype is one with NAME( in it at the top.
        for stmt in re.split(r'[;{}]', text):
            m = re.search(r'\b(mbus_\w+)\s*\(', stmt)
            if m and m.group(1) in names and '(*' not in stmt.split(m.group(1))[0]:
                found[m.group(1)] = normalize(stmt)
    return found


def roff_text(line):
    """The text of one roff line of a SYNOPSIS: font macros' arguments joined, quotes dropped."""
    if line.startswith('.'):
        macro, _, rest = line.partition(' ')
        if macro not in ('.B', '.BI', '.BR', '.I', '.IB', '.IR', '.RB', '.RI'):
            return ''
        parts = re.findall(r'"([^"]*)"|(\S+)', rest)
        return ''.join(a or b for a, b in parts)
    return line.replace('\\-', '-').replace('\\(em', '')


def page_synopsis(path):
    """(NAME section text, SYNOPSIS prototypes normalized) of a page."""
    with open(path) as f:
        lines = f.read().splitlines()
    section, name, synopsis = None, [], []
    for line in lines:
        if line.startswith('.SH '):
            section = line[4:].strip().strip('"')
            continue
        if section == 'NAME':
            name.append(line)
        elif section == 'SYNOPSIS':
            text = roff_text(line)
            if not text.startswith('#'):
                synopsis.append(text)
    text = ' '.join(synopsis).replace('\\-', '-').replace('\\e', '\\')
    # Statements end at ';', '{' or '}', as in the header: structs shown there split off.
    protos = [normalize(p) for p in re.split(r'[;{}]', text) if '(' in p]
    return ' '.join(name).replace('\\-', '-'), protos


def main():
    root, man_build = sys.argv[1], sys.argv[2]
    man_src = os.path.join(root, 'man')
    with open(os.path.join(root, 'libmbus', 'libmbus.sym')) as f:
        sym = f.read()
    names = re.findall(r'^\s+(mbus_\w+);', sym, flags=re.M)
    headers = [os.path.join(root, 'libmbus', 'include', 'mbus', h) for h in ('mbus.h', 'mbus-errors.h')]
    protos = header_prototypes(headers, set(names))
    errors = []

    if not names:
        errors.append('no symbols found in libmbus.sym')
    for name in names:
        page = None
        for d in (man_src, man_build):
            p = os.path.join(d, name + '.3')
            if os.path.exists(p):
                page = p
                break
        if not page:
            errors.append(f'{name}: no page {name}.3 (a page of its own, or a .so link in man/meson.build)')
            continue
        with open(page) as f:
            first = f.readline().strip()
        if first.startswith('.so '):
            target = os.path.join(man_src, os.path.basename(first[4:]))
            if not os.path.exists(target):
                errors.append(f'{name}: {page} links to {first[4:]}, which is not in man/')
                continue
            page = target
        page_name, page_protos = page_synopsis(page)
        if not re.search(r'\b' + re.escape(name) + r'\b', page_name):
            errors.append(f'{name}: {os.path.basename(page)} does not name it in its NAME section')
        if name not in protos:
            errors.append(f'{name}: no prototype in the headers')
            continue
        mine = [p for p in page_protos if re.search(r'\b' + re.escape(name) + r'\(', p)]
        if not mine:
            errors.append(f'{name}: {os.path.basename(page)} has no prototype of it in its SYNOPSIS')
        elif protos[name] not in mine:
            errors.append(f'{name}: {os.path.basename(page)} says\n    {mine[0]}\n  the header says\n    {protos[name]}')

    for e in errors:
        print('check-man3: ' + e)
    print(f'check-man3: {len(names)} symbols, {len(errors)} problems')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
