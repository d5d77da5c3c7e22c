# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Release checks and the tested support matrix (`make matrix`, `make docs`, `make importer`).

Every session gets its own virtualenv from PyPI (no Galaxy). The Makefile runs nox with
``--envdir .cache/nox/<hash>``, the hash covering this file and the requirements files,
and ``--reuse-venv yes``: a venv is built once per content and reused until one of those
files changes. A venv that finished installing carries a stamp, so a reused one skips pip.

The support matrix (README "Support matrix" states the same):

* ``unit-<core>``: the unit and property suite against each claimed ansible-core version,
  on a controller Python that version supports;
* ``sanity-<python>``: ``ansible-test sanity`` compile and import tests for each host
  Python the module claims, with the newest claimed ansible-core that still supports that
  Python as a target (3.6 to 3.8 only with ansible-core 2.16).
"""

from __future__ import annotations

import glob
import os

import nox

ROOT = os.path.dirname(os.path.abspath(__file__))

nox.options.error_on_missing_interpreters = True
nox.options.sessions = ['unit', 'sanity']

# Interpreters come from pyenv where it exists (CI and development machines have it).
_PYENV_ROOT = os.environ.get('PYENV_ROOT') or os.path.expanduser('~/.pyenv')
for _bin in sorted(glob.glob(os.path.join(_PYENV_ROOT, 'versions', '*', 'bin')), reverse=True):
    if _bin not in os.environ.get('PATH', '').split(os.pathsep):
        os.environ['PATH'] = _bin + os.pathsep + os.environ.get('PATH', '')

# ansible-core versions claimed (galaxy.yml/meta/runtime.yml requires_ansible >=2.16),
# each with the controller Python its unit tests run on.
CORE = {
    '2.16': ('ansible-core==2.16.19', '3.12'),
    '2.17': ('ansible-core==2.17.14', '3.12'),
    '2.18': ('ansible-core==2.18.19', '3.13'),
    '2.19': ('ansible-core==2.19.14', '3.13'),
    '2.20': ('ansible-core==2.20.10', '3.13'),
    '2.21': ('ansible-core==2.21.5', '3.12'),
}

# Host Pythons the module claims -> the ansible-core whose ansible-test checks them.
# 3.6-3.8: enterprise hosts (RHEL 8 platform-python 3.6, ...) need ansible-core 2.16 on the
# controller (2.17 dropped them); 3.11 is Debian 12's. Debian sid's 3.14 is not listed: no
# 3.14 interpreter is available on these machines (README says so).
TARGET = {
    '3.6': '2.16',
    '3.7': '2.16',
    '3.8': '2.16',
    '3.9': '2.21',
    '3.10': '2.21',
    '3.11': '2.21',
    '3.12': '2.21',
    '3.13': '2.21',
}

# cryptography<51: see requirements-dev.txt (ansible-core's DSA import warns from 51 on).
UNIT_DEPS = ['-r', 'requirements.txt', 'cryptography<51', 'pytest', 'pytest-xdist', 'hypothesis']
# The lower bounds of requirements.txt (netaddr>=0.8.0, jmespath>=1.0.0), tested in unit-2.16.
LOWEST_LIBS = ['netaddr==0.8.0', 'jmespath==1.0.0']

DOCS_DEPS = ['-r', 'hack/requirements-docs.txt']

IMPORTER_DEPS = ['galaxy-importer==0.4.44', 'ansible-core==2.21.5']


def _install(session, *args):
    """pip install once per venv: the envdir is content-hashed, so a stamp means up to date."""
    stamp = os.path.join(session.virtualenv.location, '.pbxfw-installed')
    wanted = '\n'.join(args)
    if os.path.exists(stamp):
        with open(stamp, encoding='utf-8') as handle:
            if handle.read() == wanted:
                session.log('venv up to date (%s)' % session.virtualenv.location)
                return
    session.install('--disable-pip-version-check', *args)
    with open(stamp, 'w', encoding='utf-8') as handle:
        handle.write(wanted)


@nox.session(name='unit')
@nox.parametrize(
    'python,core',
    [nox.param(spec[1], core, id=core) for core, spec in CORE.items()],
)
def unit(session, core):
    """Unit and property tests against one ansible-core version."""
    deps = [CORE[core][0]] + UNIT_DEPS
    if core == min(CORE, key=lambda v: tuple(map(int, v.split('.')))):
        deps += LOWEST_LIBS  # the lowest cell also gets the lowest libraries requirements.txt allows
    _install(session, *deps)
    session.run('python', '-c', 'import sys, ansible, jmespath, netaddr; print("ansible-core",'
                ' ansible.__version__, "python", sys.version.split()[0], "netaddr", netaddr.__version__,'
                ' "jmespath", jmespath.__version__)')
    session.run('pytest', '-q', '-p', 'no:cacheprovider', '-n', '2', 'tests/unit', *session.posargs)


@nox.session(name='sanity', python='3.12')
@nox.parametrize('python_version', list(TARGET), ids=list(TARGET))
def sanity(session, python_version):
    """ansible-test sanity compile + import of the module and module_utils for one host Python."""
    pin = CORE[TARGET[python_version]][0]
    _install(session, pin)
    env = {'ANSIBLE_TEST': os.path.join(session.bin, 'ansible-test'), 'SANITY_PYTHON': python_version}
    # The code that runs on the host: the module and its module_utils.
    targets = session.posargs or ['plugins/modules/', 'plugins/module_utils/']
    session.run('bash', 'hack/sanity.sh', '--test', 'compile', '--test', 'import', *targets,
                env=env, external=True)


@nox.session(python='3.12')
def docs(session):
    """Docs checks on the built tarball: `-- lint` (antsibull-docs lint-collection-docs
    --plugin-docs), `-- build` (the docs site under .build/docs); both without arguments."""
    _install(session, *DOCS_DEPS)
    for mode in session.posargs or ['lint', 'build']:
        session.run('bash', 'hack/docs.sh', mode, external=True, env={'DOCS_BIN': session.bin})


@nox.session(python='3.12')
def importer(session):
    """galaxy-importer on the built tarball, offline configuration (hack/galaxy-importer.cfg)."""
    _install(session, *IMPORTER_DEPS)
    tarballs = sorted(glob.glob(os.path.join(ROOT, 'dist', 'pbxops-firewall-*.tar.gz')), key=os.path.getmtime)
    if not tarballs:
        session.error('no dist/pbxops-firewall-*.tar.gz: run `make build` first')
    session.run('bash', 'hack/importer.sh', tarballs[-1], external=True, env={'IMPORTER_BIN': session.bin})
