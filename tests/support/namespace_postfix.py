"""Debian's Postfix 3.7 and Dovecot 2.3 as installed, inside a test machine
(tests/support/namespace.py).

Debian's postfix package conflicts with exim4, so this computer never installs
it: scripts/test unpacks it (tests/support/postfix.py). Inside a test machine
/usr, /etc and /var are overlays, so ``install_postfix`` copies the unpacked
package into place there (the machine's /usr/sbin/postfix, /usr/lib/postfix,
/etc/init.d/postfix), and writes main.cf and master.cf as Debian's postinst
does for an "Internet Site" with the snakeoil certificate (make-ssl-cert's
self-signed certificate for the host name). Dovecot's postinst links the same
snakeoil certificate as its own; ``start_dovecot`` does that and starts
Debian's dovecot-core through its init script.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from gmailfix.lab import ca
from tests.support import namespace as ns
from tests.support.postfix import postfix_root

SNAKEOIL_CERT = Path("/etc/ssl/certs/ssl-cert-snakeoil.pem")
SNAKEOIL_KEY = Path("/etc/ssl/private/ssl-cert-snakeoil.key")
MAILLOG = Path("/var/log/postfix.log")  # no syslog in a test machine: Postfix's own log


def install_postfix(host: str) -> None:
    """Debian's postfix package, installed in this machine, configured as its postinst
    does for an Internet Site called ``host``; not started."""
    ns.scratch()
    package = postfix_root()
    for top in ("usr", "etc", "var"):
        _copy_missing(package / top, Path("/") / top)
    _snakeoil(host)
    share = Path("/usr/share/postfix")
    main = (share / "main.cf.debian").read_text() + (share / "main.cf.tls").read_text()
    main += "\n".join(
        [
            "",
            f"myhostname = {host}",
            "alias_maps = hash:/etc/aliases",
            "alias_database = hash:/etc/aliases",
            "myorigin = /etc/mailname",
            f"mydestination = {host}, localhost",
            "relayhost =",
            "mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128",
            "mailbox_size_limit = 0",
            "recipient_delimiter = +",
            "inet_interfaces = all",
            "inet_protocols = all",
            "# a test machine has no syslog: Postfix writes its own log",
            f"maillog_file = {MAILLOG}",
            "",
        ]
    )
    Path("/etc/postfix/main.cf").write_text(main)
    shutil.copyfile(share / "master.cf.dist", "/etc/postfix/master.cf")
    Path("/etc/mailname").write_text(f"{host}\n")
    for path in (Path("/etc/postfix/main.cf"), Path("/etc/postfix/master.cf")):
        aged = time.time() - 60  # Postfix waits for a config file younger than a second or two
        os.utime(path, (aged, aged))
    Path("/etc/postfix/dynamicmaps.cf").touch()  # the postinst makes it from dynamicmaps.cf.d
    # postalias, not newaliases: /usr/bin/newaliases is still exim4's here
    shutil.chown("/var/lib/postfix", "postfix", "postfix")  # as its postinst does
    for argv in (("postalias", "/etc/aliases"), ("postfix", "check")):
        done = ns.run(*argv)
        assert done.code == 0, f"{done}\n{_log()}"


def _copy_missing(source: Path, target: Path) -> None:
    """The package's files where this machine has none (exim4's sendmail stays)."""
    for folder, folders, files in os.walk(source):
        here = target / Path(folder).relative_to(source)
        here.mkdir(exist_ok=True)
        for name in [*folders, *files]:
            origin, copy = Path(folder) / name, here / name
            if name in files and not copy.exists() and not copy.is_symlink():
                shutil.copy2(origin, copy, follow_symlinks=False)
                info = origin.lstat()  # owner and group too (postdrop's set-group-id programs)
                os.lchown(copy, info.st_uid, info.st_gid)
                if not copy.is_symlink():
                    copy.chmod(info.st_mode & 0o7777)


def _snakeoil(host: str) -> None:
    """What make-ssl-cert generate-default-snakeoil leaves (ssl-cert, which postfix needs)."""
    own = ca.make_leaf(None, [host])
    SNAKEOIL_CERT.write_bytes(own.cert_pem())
    SNAKEOIL_KEY.write_bytes(own.key_pem())
    shutil.chown(SNAKEOIL_KEY, "root", "ssl-cert")
    SNAKEOIL_KEY.chmod(0o640)


def _log() -> str:
    return MAILLOG.read_text(errors="replace") if MAILLOG.exists() else ""


def start_postfix() -> None:
    """``postfix start``, as Debian's init script ends: the script itself first copies the
    CA certificates into Postfix's chroot with cpio, which the unpacked package lacks."""
    done = ns.run("postfix", "start")
    assert done.code == 0, f"{done}\n{_log()}"
    ns.wait_for_port(25)


def start_dovecot() -> None:
    """Debian's dovecot-core as installed (its snakeoil links, as its postinst makes them)."""
    private = Path("/etc/dovecot/private")
    for name, target in (("dovecot.pem", SNAKEOIL_CERT), ("dovecot.key", SNAKEOIL_KEY)):
        if not (private / name).exists():
            (private / name).symlink_to(target)
    ns.service("dovecot", "start")


def postconf(*args: str) -> None:
    done = ns.run("postconf", *args)
    assert done.code == 0, str(done)


def reload_postfix() -> None:
    done = ns.run("postfix", "reload")
    assert done.code == 0, f"{done}\n{_log()}"
