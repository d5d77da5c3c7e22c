# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run an Ansible CLI with the controller's CPU accounted per task: where does it go?

    .venv/bin/python bench/instrument.py LOG [PROFILE_DIR] -- ansible-playbook -i INV PLAY

Ansible forks one worker process per task and host. This launcher wraps the call by which a
worker hands its result to the main process (``FinalQueue.send_task_result``) so that each
worker, when its task is done, appends one JSON line to LOG: the task, its action, the host,
whether it was skipped, and the worker's own CPU seconds (``getrusage(RUSAGE_SELF)``, which a
forked child counts from zero) plus those of the processes it waited for. The main process (inventory, the strategy's
per-host variables, forking, callbacks) appends one line with its own CPU at exit. With
PROFILE_DIR, every worker and the main process also write a cProfile file there (slower:
for finding the hot functions, not for timing). ``profile_role.py`` starts it and sums up.
"""

import atexit
import cProfile
import json
import os
import resource
import sys
import time


def _cpu(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _append(log, record):
    # one short write per line on an O_APPEND file: lines of concurrent workers do not mix
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(record) + '\n').encode())
    finally:
        os.close(fd)


def install(log, profile_dir=None):
    from ansible.executor import task_queue_manager
    from ansible.executor.process import worker

    main_pid = os.getpid()
    started = {}
    send = task_queue_manager.FinalQueue.send_task_result

    def send_task_result(self, host, task, utr, *args, **kwargs):
        # in the worker, just before its result goes to the main process: once that has the last
        # result of a play it may end the worker, so nothing after this point is sure to run
        if os.getpid() != main_pid:
            _append(log, {'kind': 'worker', 'pid': os.getpid(), 'task': task.get_name(), 'action': task.action, 'host': host.name,
                          'skipped': bool(getattr(utr, 'skipped', False)), 'cpu': _cpu(resource.RUSAGE_SELF),
                          'children_cpu': _cpu(resource.RUSAGE_CHILDREN),
                          'wall': time.perf_counter() - started.get('at', time.perf_counter())})
        return send(self, host, task, utr, *args, **kwargs)

    task_queue_manager.FinalQueue.send_task_result = send_task_result
    worker_run = worker.WorkerProcess._run
    # CPU time, not wall time: the question is what the controller's CPU does
    main_profile = cProfile.Profile(time.process_time) if profile_dir else None

    def _run(self):
        started['at'] = time.perf_counter()
        if not profile_dir:
            return worker_run(self)
        main_profile.disable()      # inherited from the main process by the fork
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        try:
            return worker_run(self)
        finally:
            profile.disable()
            profile.dump_stats(os.path.join(profile_dir, 'worker-%d.prof' % os.getpid()))

    worker.WorkerProcess._run = _run
    if main_profile:
        main_profile.enable()

    def at_exit():
        if os.getpid() != main_pid:
            return
        if main_profile:
            main_profile.disable()
            main_profile.dump_stats(os.path.join(profile_dir, 'main.prof'))
        _append(log, {'kind': 'main', 'cpu': _cpu(resource.RUSAGE_SELF)})

    atexit.register(at_exit)


def main(argv):
    split = argv.index('--')
    log, profile_dir = argv[1], (argv[2] if split > 2 else None)
    cli = argv[split + 1:]
    install(log, profile_dir)
    sys.argv = cli
    name = os.path.basename(cli[0])
    if name == 'ansible-playbook':
        from ansible.cli.playbook import main as cli_main
    elif name == 'ansible':
        from ansible.cli.adhoc import main as cli_main
    else:
        raise SystemExit('instrument.py: ansible or ansible-playbook, not %s' % name)
    return cli_main()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
