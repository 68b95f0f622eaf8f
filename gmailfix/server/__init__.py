"""On the mail server itself: doctor, apply, rollback and watch.

    system.py     Root (--root), the command runner seam, atomic writes
    mta.py        which MTA and Debian layout; the shape of its TLS settings
    exim.py       Exim's effective settings (update-exim4.conf, exim -bP)
    postfix.py    Postfix's effective settings (postconf, postconf -M)
    certfiles.py  certificate and key files: there, readable by the MTA's user, a pair
    renewal.py    certbot's renewal of that certificate and its deploy hooks
    doctor.py     all checks -> DoctorReport (findings)
    journal.py    a backup of every file a change touches, and rollback
    apply.py      bundle -> ApplyPlan (diffs, commands) -> apply -> ApplyResult
    watch.py      TLS logging on and off, and what Google's connections did

Nothing here imports Textual; the wizard and the CLI call these functions.
"""
