# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The license the collection declares (galaxy.yml) is the one its files and COPYING carry."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPDX = 'SPDX-License-Identifier: GPL-3.0-or-later'


def _tracked_sources():
    out = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard'], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split('\n')
    for path in out:
        full = os.path.join(ROOT, path)
        if not path or not os.path.isfile(full):
            continue
        with open(full, 'rb') as handle:
            head = handle.read(800)
        if path.endswith(('.py', '.sh')) or head.startswith(b'#!'):
            yield path, head.decode('utf-8', 'replace')


def test_galaxy_declares_gpl3_or_later():
    with open(os.path.join(ROOT, 'galaxy.yml'), encoding='utf-8') as handle:
        assert yaml.safe_load(handle)['license'] == ['GPL-3.0-or-later']


def test_copying_is_the_gpl3_text():
    with open(os.path.join(ROOT, 'COPYING'), encoding='utf-8') as handle:
        text = handle.read()
    assert text.lstrip().startswith('GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007')
    assert 'END OF TERMS AND CONDITIONS' in text and len(text.splitlines()) == 674


@pytest.mark.parametrize('path,head', sorted(_tracked_sources()))
def test_source_file_carries_the_license_header(path, head):
    assert SPDX in head, '%s: no "%s" line in its first lines' % (path, SPDX)
