# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in for AnsibleModule on a host: binaries by name, command answers by argv, fail_json raises."""

from __future__ import annotations

import atexit
import shutil
import tempfile

# AnsibleModule.tmpdir of every fake: one directory per test process, removed at its end
_TMPDIR = tempfile.mkdtemp(prefix='fake-module-')
atexit.register(shutil.rmtree, _TMPDIR, True)


class Failed(Exception):
    pass


class FakeModule:
    def __init__(self, bins=(), answers=None, default=(0, '', ''), tmpdir=None):
        self.bins = {name: '/usr/sbin/' + name for name in bins}
        self.answers = answers or {}      # tuple(argv) or argv[0] -> (rc, out, err) or callable(stdin)
        self.default = default
        self.calls = []
        self.tmpdir = tmpdir or _TMPDIR

    def get_bin_path(self, name, required=False):
        path = self.bins.get(name)
        if path is None and required:
            raise Failed('%s not found' % name)
        return path

    def run_command(self, argv, data=None, binary_data=False, cwd=None):
        self.calls.append((list(argv), data))
        answer = self.answers.get(tuple(argv), self.answers.get(argv[0], self.default))
        answer = answer(data) if callable(answer) else answer
        if '-file' in argv[:-1] and answer[0] == 0:      # ipset save -file PATH: the output goes there
            with open(argv[argv.index('-file') + 1], 'w') as handle:
                handle.write(answer[1])
            return (answer[0], '', answer[2])
        return answer

    def fail_json(self, **kwargs):
        raise Failed(kwargs['msg'])
