# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in for AnsibleModule on a host: binaries by name, command answers by argv, fail_json raises."""

from __future__ import annotations


class Failed(Exception):
    pass


class FakeModule:
    def __init__(self, bins=(), answers=None, default=(0, '', '')):
        self.bins = {name: '/usr/sbin/' + name for name in bins}
        self.answers = answers or {}      # tuple(argv) or argv[0] -> (rc, out, err) or callable(stdin)
        self.default = default
        self.calls = []

    def get_bin_path(self, name, required=False):
        path = self.bins.get(name)
        if path is None and required:
            raise Failed('%s not found' % name)
        return path

    def run_command(self, argv, data=None, binary_data=False, cwd=None):
        self.calls.append((list(argv), data))
        answer = self.answers.get(tuple(argv), self.answers.get(argv[0], self.default))
        return answer(data) if callable(answer) else answer

    def fail_json(self, **kwargs):
        raise Failed(kwargs['msg'])
