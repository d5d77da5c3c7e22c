# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/projection.py: the fleet projection is computed from the measured sizes."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path[:0] = [os.path.join(ROOT, 'bench')]

import projection  # noqa: E402  pylint: disable=wrong-import-position


def _fleet(per_host, fixed, sizes=(1, 20, 50, 100)):
    """A fleet part whose controller CPU is exactly fixed + hosts * per_host for every kind."""
    return {'sizes': [{'hosts': n, **{kind: {'cpu_controller': fixed[kind] + n * per_host[kind]}
                                      for kind in ('apply', 'noop', 'ping')}} for n in sizes]}


def test_the_line_through_the_sizes_gives_per_host_and_per_run():
    fleet = _fleet({'apply': 0.9, 'noop': 0.5, 'ping': 0.2}, {'apply': 2.0, 'noop': 1.5, 'ping': 1.0})
    got = projection.costs(fleet)
    assert got['apply'] == pytest.approx((0.9, 2.0))
    assert got['noop'] == pytest.approx((0.5, 1.5))
    assert got['ping'] == pytest.approx((0.2, 1.0))


@pytest.mark.parametrize('points, expected', [
    ([(10, 5.0)], (0.5, 0.0)),                       # one size: all of it per host
    ([(1, 3.0), (100, 3.0)], (0.0, 3.0)),            # flat: all of it per run
    ([(1, 0.5), (100, 50.0)], (0.5, 0.0)),           # a negative intercept is no cost
])
def test_fit(points, expected):
    assert projection.fit(points) == pytest.approx(expected, abs=1e-3)


def test_rows_follow_the_measurements():
    fleet = _fleet({'apply': 1.0, 'noop': 0.6, 'ping': 0.3}, {'apply': 6.0, 'noop': 6.0, 'ping': 6.0})
    rows = projection.rows(fleet)
    assert len(projection.header()) == len(rows[0]) == 3 + len(projection.CORES) + len(projection.NODES)
    apply_10k = rows[1]
    assert apply_10k[:3] == [projection.KINDS[0][1], '10,000', '2.8 h']          # 6 + 10,000 s
    assert apply_10k[3:6] == ['83 min', '21 min', '5 min']                      # / 2, 8, 32 cores
    # 4 nodes of 4 cores: (6 + 2,500) / 4 s; 16 nodes: (6 + 625) / 4 s
    assert apply_10k[6:] == ['10 min', '3 min']
