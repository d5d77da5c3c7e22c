# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The metrics refresher: the report's metrics without a controller (private to pbxops.firewall).

This file is private to the ``pbxops.firewall`` collection; its interface may change without
notice. The refresher is one standalone Python 3 script the role installs on a PBX
(``pbx_firewall_metrics_interval``) and cron runs every few minutes: it reads what the
``firewall_report`` module reads and writes the same ``pbx_firewall.prom``. So that both are
the same code, ``script`` builds it from the host core's own files (``MODULE_UTILS``, standard
library only), loaded under their collection names, and a ``main`` that stands in for the
module (binaries on PATH, commands, failures); ``cron_file`` says when it runs. Pure Python,
no Ansible imports; it runs on the controller.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import inspect
import os
import re

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import DEFAULT_METRICS_SCRIPT

PACKAGE = 'ansible_collections.pbxops.firewall.plugins.module_utils'
# the host core's files the report needs, each after the files it imports
MODULE_UTILS = ('_steps', '_canonical', '_netfilter', '_rollback', '_counters', '_reasons', '_host', '_report', '_metrics')
SCRIPT_PATH = DEFAULT_METRICS_SCRIPT
CRON_PATH = '/etc/cron.d/pbx-firewall-metrics'
BACKENDS = ('auto', 'nft', 'legacy')

HEADER = '''#!/usr/bin/python3
# Managed by pbxops.firewall (role pbx_firewall); do not edit, the next run overwrites it.
# Writes the PBX firewall's drop report as Prometheus metrics (pbx_firewall.prom) for
# node_exporter's textfile collector, like the pbxops.firewall.report playbook does:
#   pbx-firewall-metrics [--backend auto|nft|legacy] [--metrics-dir DIR]
# It carries the collection's own host code (plugins/module_utils: %s).
'''

LOADER = '''
import os
import shutil
import subprocess
import sys
import types


def _load(sources):
    """Each file of the collection's host code as the module Ansible would import."""
    names = %(package)r.split('.')
    for index in range(len(names)):
        name = '.'.join(names[:index + 1])
        package = sys.modules.setdefault(name, types.ModuleType(name))
        package.__path__ = []
    for name, source in sources:
        module = types.ModuleType('%%s.%%s' %% (%(package)r, name))
        sys.modules[module.__name__] = module
        exec(compile(source, '%%s/%%s.py' %% (%(package)r.replace('.', '/'), name), 'exec'), module.__dict__)
        setattr(sys.modules[%(package)r], name, module)
'''

MAIN = '''

class Failed(Exception):
    pass


class Shim(object):
    """What the host code asks of an AnsibleModule: binaries, commands, failures."""

    PATH = os.pathsep.join([os.environ.get('PATH', ''), '/usr/local/sbin', '/usr/sbin', '/sbin'])

    def get_bin_path(self, name, required=False):
        path = shutil.which(name, path=self.PATH)
        if path is None and required:
            raise Failed('%s not found' % name)
        return path

    def run_command(self, argv, data=None, binary_data=False, cwd=None):
        proc = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, cwd=cwd)
        return proc.returncode, proc.stdout, proc.stderr

    def fail_json(self, msg, **_result):
        raise Failed(msg)


def main(argv):
    options = {'--backend': 'auto', '--metrics-dir': 'auto'}
    for flag, value in zip(argv[::2], argv[1::2]):
        if flag not in options:
            raise Failed('unknown option %s; valid: --backend auto|nft|legacy, --metrics-dir DIR' % flag)
        options[flag] = value
    if len(argv) % 2:
        raise Failed('%s needs a value' % argv[-1])
    from ansible_collections.pbxops.firewall.plugins.module_utils import _host, _metrics, _report
    directory = _metrics.textfile_dir(options['--metrics-dir'])
    if directory is None:
        raise Failed("no node_exporter textfile directory (%s does not exist); give --metrics-dir DIR"
                     % _metrics.DEBIAN_TEXTFILE_DIR)
    report = _report.collect(_host.Host(Shim(), options['--backend']))
    _metrics.write(directory, _metrics.render(report))
    for note in report['notes']:
        sys.stderr.write('pbx-firewall-metrics: %s\\n' % note)
    return 0


if __name__ == '__main__':
    _load(SOURCES)
    try:
        sys.exit(main(sys.argv[1:]))
    except (Failed, OSError) as exc:
        sys.stderr.write('pbx-firewall-metrics: %s\\n' % exc)
        sys.exit(1)
'''


def script():
    """The refresher's text: the host core's files, loaded as the collection, and ``main``."""
    sources = [(name, inspect.getsource(importlib.import_module('%s.%s' % (PACKAGE, name))))
               for name in MODULE_UTILS]
    return ''.join([
        HEADER % ', '.join('%s.py' % name for name in MODULE_UTILS),
        LOADER % {'package': PACKAGE},
        '\nSOURCES = %r\n' % (sources,),
        MAIN,
    ])


def _sh_quote(value):
    return value if re.match(r'^[A-Za-z0-9_./:=+-]+$', value) else "'%s'" % value.replace("'", "'\"'\"'")


def cron_file(minutes, backend='auto', metrics_dir='auto', path=SCRIPT_PATH):
    """/etc/cron.d text that runs the refresher every ``minutes`` (1-59); its errors go to syslog."""
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 59:
        raise ValueError('pbx_firewall_metrics_interval: must be 0 (off) or 1-59 minutes, got %r' % (minutes,))
    if '%' in metrics_dir or '\n' in metrics_dir:
        raise ValueError('pbx_firewall_metrics_dir: a cron line cannot carry %% or a line break, got %r'
                         % (metrics_dir,))
    return ''.join([
        '# Managed by pbxops.firewall (role pbx_firewall); do not edit, the next run overwrites it.\n',
        '# The PBX firewall drop metrics for node_exporter, every %d minute%s.\n' % (minutes, '' if minutes == 1 else 's'),
        'SHELL=/bin/sh\n',
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n',
        '%s * * * * root %s --backend %s --metrics-dir %s 2>&1 >/dev/null | logger -t pbx-firewall-metrics\n'
        % ('*' if minutes == 1 else '*/%d' % minutes, path, backend, _sh_quote(metrics_dir)),
    ])


def role_files(interval, metrics_dir, backend, path, errors):
    """{'metrics_script', 'metrics_cron'}: the texts the role installs (the script at ``path``),
    '' when the refresher is off (``interval`` 0: the role removes them). A bad value is added
    to ``errors`` (naming the role's variable, the value and what is valid)."""
    from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.scalars import parse_int

    off = {'metrics_script': '', 'metrics_cron': ''}
    try:
        minutes = parse_int(interval)
    except ValueError as exc:
        minutes = None
        errors.append('pbx_firewall_metrics_interval: must be 0 (off) or 1-59 minutes, got %r; %s' % (interval, exc))
    if backend not in BACKENDS:
        errors.append('pbx_firewall_backend: %r is not a backend; valid: %s' % (backend, ', '.join(BACKENDS)))
    if metrics_dir != 'auto' and not (isinstance(metrics_dir, str) and os.path.isabs(metrics_dir)):
        errors.append("pbx_firewall_metrics_dir: must be 'auto' or an absolute path, got %r" % (metrics_dir,))
    if not (isinstance(path, str) and os.path.isabs(path) and _sh_quote(path) == path):
        errors.append('pbx_firewall_metrics_script: must be an absolute path of letters, digits and ./_:=+-, got %r'
                      % (path,))
    if not minutes or errors:
        return off
    try:
        cron = cron_file(minutes, backend, metrics_dir, path)
    except ValueError as exc:
        errors.append(str(exc))
        return off
    return {'metrics_script': script(), 'metrics_cron': cron}
