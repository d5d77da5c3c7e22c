# Copyright (c) pbxops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for get-pip.py, used by ansible-test to bootstrap pip into its venvs.

ansible-test downloads get-pip.py from ci-files.testing.ansible.com, which CI cannot
reach. hack/sanity.sh stores this script in ansible-test's cache instead. It accepts the
same command line as get-pip.py: bootstrap pip from the interpreter's bundled ensurepip
(no network), then `pip install` the requested packages (e.g. pip==25.2) from PyPI.
"""

# No __future__ imports: this runs on every Python ansible-test targets (3.6 too).

import subprocess
import sys


def main():
    """Bootstrap pip, then install what get-pip.py would have installed."""
    args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
    subprocess.run([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'],
                   check=True, stdout=subprocess.DEVNULL)
    if args:
        subprocess.run([sys.executable, '-m', 'pip', 'install'] + args, check=True)


if __name__ == '__main__':
    main()
