# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Talking to a running Asterisk for pbxops.firewall's ``asterisk_localnet_apply`` module.

Private to this collection (no public API): it owns the Asterisk CLI conversation
(``asterisk -rx``), reading its output (which command failed, which transports exist,
what ``local_net`` each one carries), and the checks built on that read-back (which
sections of ``pjsip.conf`` inherit the role's template is ``_asterisk_config``'s). Standard
library only; the module passes in its ``run_command``.

``asterisk -rx`` exits 0 for unknown or failed commands; only a missing daemon gives a
non-zero status. Failure is therefore read from the output (see ``CLI_FAILURES``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

# Output of `asterisk -rx` that means the command did not do its job, although the
# exit status may be 0.
# Where Asterisk's configuration is when no option says otherwise (Debian's, and Asterisk's own).
CONFIG_DIR = '/etc/asterisk'
CLI_FAILURES = (
    'No such command',
    'No such module',
    'Unable to connect to remote asterisk',
    'Unable to reload',
    'Unable to find object',
    'failed to reload',
    'The module is not loaded',
)
NOT_RUNNING = 'Unable to connect to remote asterisk'
TRANSPORT_HEADER = re.compile(r'^\s*Transport:\s+(\S+)\s+(\S+)', re.M)
PARAMETER = re.compile(r'^\s*([a-z_]+)\s*:\s?(.*?)\s*$')
EXTERNAL = ('external_signaling_address', 'external_media_address')


class AsteriskError(Exception):
    """An Asterisk CLI command failed (message names the command and its output)."""


class Cli:
    """``asterisk -rx COMMAND`` through a ``run_command(argv) -> (rc, out, err)``."""

    def __init__(self, run_command, binary='asterisk'):
        self.run_command = run_command
        self.binary = binary
        self.log = []

    def raw(self, command):
        rc, out, err = self.run_command([self.binary, '-rx', command])
        text = (out or '') + (err or '')
        self.log.append(command)
        return rc, text

    def __call__(self, command):
        """The output of a command that worked; AsteriskError otherwise."""
        rc, text = self.raw(command)
        failed = [marker for marker in CLI_FAILURES if marker in text]
        if rc != 0 or failed:
            raise AsteriskError("asterisk -rx '%s' failed (exit %d): %s" % (command, rc, text.strip() or 'no output'))
        return text

    def running(self):
        """The version line of a running Asterisk, or None when none answers."""
        rc, text = self.raw('core show version')
        if rc != 0 or NOT_RUNNING in text or not text.strip().startswith('Asterisk'):
            return None
        return text.strip().splitlines()[0]


def major_version(version_line):
    """22 from 'Asterisk 22.10.1~dfsg+~cs6.15.60671435-1 built by ...'; None if unknown."""
    match = re.match(r'Asterisk\s+(?:certified/)?(\d+)\.', version_line or '')
    return int(match.group(1)) if match else None


def module_loaded(cli, module):
    """True when `module show like MODULE` lists it as running."""
    text = cli('module show like %s' % module)
    return any(line.split()[:1] == [module] and 'Running' in line for line in text.splitlines())


def transport_names(text):
    """Transport names in `pjsip show transports` output (the header row left out)."""
    return [name for name, _kind in TRANSPORT_HEADER.findall(text) if not name.startswith('<')]


def transport_parameters(text):
    """{parameter: [values]} of `pjsip show transport NAME` (local_net repeats)."""
    found = {}
    for line in text.splitlines():
        match = PARAMETER.match(line)
        if match and not line.lstrip().startswith('Transport:'):
            found.setdefault(match.group(1), []).append(match.group(2))
    return found


def network(value):
    """One network from 'ADDR/PREFIX' or 'ADDR/NETMASK' (Asterisk prints IPv4 and IPv6
    local_net with a netmask: 10.0.0.0/255.255.255.0, fd00::/ffff:ffff:ffff:ffff::)."""
    address, _sep, mask = value.strip().partition('/')
    if mask and not mask.isdigit():
        mask = str(bin(int(ipaddress.ip_address(mask))).count('1'))
    return ipaddress.ip_network('%s/%s' % (address, mask) if mask else address, strict=False)


def networks(values):
    """The set of networks of a list of local_net strings (empty strings left out)."""
    return set(network(value) for value in values if value.strip())


def same_networks(live, desired):
    """Whether two local_net lists name the same networks (a value that is no network: no)."""
    try:
        return networks(live) == networks(desired)
    except ValueError:
        return False


def external_addresses(parameters):
    """{parameter: value} of the transport's non-empty external_* addresses."""
    return dict((key, parameters[key][0]) for key in EXTERNAL if parameters.get(key, [''])[0].strip())


def host_addresses(text):
    """Global addresses of `ip -o addr show` output (loopback and link-local left out)."""
    found = []
    for line in text.splitlines():
        words = line.split()
        for index, word in enumerate(words[:-1]):
            if word in ('inet', 'inet6'):
                try:
                    address = ipaddress.ip_interface(words[index + 1]).ip
                except ValueError:
                    continue
                if not (address.is_loopback or address.is_link_local):
                    found.append(str(address))
    return found


def media_warning(transports, desired, addresses, host):
    """The warning text when a transport sets external_media_address and no address of
    the host lies in a local_net subnet; None otherwise."""
    with_media = sorted(name for name, params in transports.items()
                        if params.get('external_media_address', [''])[0].strip())
    if not with_media:
        return None
    subnets = networks(desired)
    inside = [a for a in addresses
              if any(ipaddress.ip_address(a) in net for net in subnets if net.version == ipaddress.ip_address(a).version)]
    if inside:
        return None
    return ('%s: transports %s set external_media_address, but none of the host\'s own addresses (%s) lies in a '
            'local_network subnet (local_net: %s). Asterisk then keeps the PBX\'s private media address in the '
            'SDP (c=) it sends to outside phones, and their audio fails. Fix: mark the network holding the '
            'PBX\'s own address local_network: true.'
            % (host, ', '.join(with_media), ', '.join(addresses) or 'none', ', '.join(desired) or 'empty'))


def fix_for(name, template):
    """One-line fix for a transport that does not carry the desired local_net."""
    return ('[%s] does not inherit (%s): write its section header as [%s](%s) in pjsip.conf, '
            'or list %s in pbx_firewall_asterisk_pjsip_transports' % (name, template, name, template, name))


def chan_sip_unknown(absent, config_dir):
    """The warning when chan_sip is asked for and no Asterisk answers: nothing is written
    for chan_sip, since only a running Asterisk tells whether it has chan_sip."""
    return ('%s, so whether it has chan_sip (removed in Asterisk 21) cannot be checked: nothing is written for '
            'chan_sip (no localnet include file in %s, no #include in sip.conf). The PJSIP file, the firewall '
            'and fail2ban are managed as usual. Start Asterisk and run the role again, or set '
            'pbx_firewall_asterisk_chan_sip: false.' % (absent, config_dir))


def probe_chan_sip(run_command, binary, config_dir):
    """(version line or None, chan_sip loaded, warning or None) of the running Asterisk, asked
    through BINARY (None: not installed); AsteriskError when its CLI fails."""
    cli = Cli(run_command, binary or 'asterisk')
    version = cli.running() if binary else None
    if version is None:
        absent = ('Asterisk is not installed on this host (no asterisk binary in PATH)' if binary is None
                  else "No Asterisk answers on this host (asterisk -rx 'core show version')")
        return None, False, chan_sip_unknown(absent, config_dir)
    return version, module_loaded(cli, 'chan_sip.so'), None
