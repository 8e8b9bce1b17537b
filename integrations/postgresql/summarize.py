#!/usr/bin/env python3
"""Pass counts of src/test/ssl per test file per tree, from the TAP lines
that PostgreSQL's harness copies into its regress_log_* files (run.sh keeps
them in BUILD_DIR/TREE/test-logs).

    summarize.py EXPECTED_SKIPS BUILD_DIR TREE...

Prints one Markdown table (also written to BUILD_DIR/results.md) and exits
1 when a check failed, when a file did not finish its plan, or when a hotssl
tree skipped a check that EXPECTED_SKIPS does not list (or more of them).
"""
import glob
import os
import re
import sys

# The harness stamps each line: "[12:49:10.287](3.148s) ok 1 - ...".
STAMP = r'^(?:\[[^\]]*\]\([^)]*\) )?'
TAP = re.compile(STAMP + r'(not )?ok (\d+)\b(.*)$')
PLAN = re.compile(STAMP + r'1\.\.(\d+)')


def read_expected(path):
    """file -> (count, reason); '#' comments, 'FILE COUNT REASON...' lines."""
    out = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            name, count, reason = line.split(None, 2)
            out[name] = (out.get(name, (0, ''))[0] + int(count), reason)
    return out


def count(log):
    c = {'pass': 0, 'skip': 0, 'fail': 0, 'todo': 0, 'plan': None, 'seen': 0,
         'skips': []}
    with open(log, encoding='utf-8', errors='replace') as f:
        for line in f:
            m = PLAN.match(line)
            if m:
                c['plan'] = int(m.group(1))
                continue
            m = TAP.match(line)
            if not m:
                continue
            c['seen'] += 1
            rest = m.group(3)
            if '# TODO' in rest:
                c['todo'] += 1
            elif m.group(1):
                c['fail'] += 1
            elif re.search(r'#\s*skip', rest, re.I):
                c['skip'] += 1
                c['skips'].append(rest.split('#', 1)[1].strip())
            else:
                c['pass'] += 1
    return c


def main():
    expected = read_expected(sys.argv[1])
    build, trees = sys.argv[2], sys.argv[3:]
    results, files, bad = {}, set(), []
    for t in trees:
        logs = glob.glob(os.path.join(build, t, 'test-logs', 'regress_log_*'))
        if not logs:
            bad.append(f'{t}: no test logs (did the tests run?)')
        for log in logs:
            name = os.path.basename(log)[len('regress_log_'):] + '.pl'
            c = count(log)
            results[(t, name)] = c
            files.add(name)
            if c['fail']:
                bad.append(f'{t}/{name}: {c["fail"]} check(s) failed')
            if c['plan'] is None or c['seen'] != c['plan']:
                bad.append(f'{t}/{name}: planned {c["plan"]}, ran {c["seen"]}')
            if t != 'stock':
                allowed = expected.get(name, (0, ''))[0]
                if c['skip'] > allowed:
                    bad.append(f'{t}/{name}: {c["skip"]} skipped, expected-skips allows {allowed}: '
                               + '; '.join(c['skips']))
    lines = ['| test file | ' + ' | '.join(trees) + ' |',
             '|---|' + '---|' * len(trees)]

    def cell(c):
        if c is None:
            return '—'
        s = f'{c["pass"]}/{c["pass"] + c["fail"]} passed'
        extra = [f'{c[k]} {k}' for k in ('skip', 'todo') if c[k]]
        return s + (' (' + ', '.join(extra) + ')' if extra else '')

    totals = {t: {'pass': 0, 'fail': 0, 'skip': 0, 'todo': 0} for t in trees}
    for name in sorted(files):
        row = []
        for t in trees:
            c = results.get((t, name))
            row.append(cell(c))
            if c:
                for k in totals[t]:
                    totals[t][k] += c[k]
        lines.append(f'| {name} | ' + ' | '.join(row) + ' |')
    lines.append('| **total** | ' + ' | '.join(cell(totals[t]) for t in trees) + ' |')
    table = '\n'.join(lines)
    print(table)
    with open(os.path.join(build, 'results.md'), 'w', encoding='utf-8') as f:
        f.write(table + '\n')
    for b in bad:
        print('FAILED: ' + b)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
