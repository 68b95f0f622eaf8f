"""On the mail server itself: doctor, apply, rollback and watch.

    system.py         Root (--root), the command-runner seam, atomic writes
    mta.py            which MTA and Debian layout; the shape of its TLS settings
    exim.py           Exim's effective settings (update-exim4.conf, exim -bP)
    exim_expansion.py the file an expanded tls_certificate names without SNI (no exim -be)
    sandbox.py        a copy's (--root) tools run as nobody, no network, read-only
    sandbox_enter.py  the sandbox's inside: binds, read-only mounts, setpriv (stdlib only)
    postfix.py        Postfix's effective settings (postconf, postconf -M)
    certfiles.py      certificate and key files: there, readable by the MTA's user, a pair
    renewal.py        certbot's renewal of that certificate: deploy, pre and post hooks, dry run
    renewal_mechanism.py  what runs certbot renew (timer, cron), which certbot and what it can do
    doctor.py         every check -> DoctorReport (findings)          run_doctor()
    bundle_read.py    a bundle from gmailfix export, checked against its MANIFEST.json
    edit.py           a marked gmailfix block in a config file; diffs
    postfix_apply.py  a plan's Postfix settings through postconf on a copy (no shell); Dovecot
    exim_auth.py      Exim's authenticators where each layout reads them
    plan.py           bundle (its typed plan) + server -> ApplyPlan   plan_apply()
    issue.py          apply's certificate step: certbot, and gmailfix's own deploy hook
    journal.py        a backup of every file a change touches; undo
    journals.py       the journals under a root, the one rollback undoes, the lock
    journal_entry.py  one file's record in a journal, checked before it is acted on
    journal_folder.py where journals live: a folder of root's alone
    leftovers.py      what killed runs leave (temporary files), removed
    allowlist.py      where gmailfix may write, and rollback put files back
    apply.py          ApplyPlan -> writes, checks, reload, re-check, rollback on failure
                                                                      apply(), rollback()
    watch.py          doctor --watch: the MTA's way picked         plan_watch(), follow()
    watch_log.py      what one connection did, the log followed as it grows, the words
    watch_exim.py     Exim: TLS logging on (a journaled change), its log lines
    watch_postfix.py  Postfix: smtpd_tls_loglevel, its log lines
    fcrdns.py         Google recognised by forward-confirmed reverse DNS only
    stop_signals.py   SIGHUP and SIGTERM undo the logging change as Ctrl+C does
    systemd_units.py  systemd units read as files (also on a copy)
    check_timer.py    is the daily check (export --timer) installed and enabled

Nothing here imports Textual; the wizard and the CLI call these functions.
"""
