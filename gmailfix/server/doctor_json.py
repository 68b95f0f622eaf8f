"""A doctor report as JSON data (schema gmailfix.doctor/1); outside text is kept as it is."""

from __future__ import annotations

from typing import Any

from gmailfix.certs import CertInfo
from gmailfix.server.doctor import DOCTOR_SCHEMA, DoctorReport


def report_json(report: DoctorReport) -> dict[str, Any]:
    """The report as JSON data (schema gmailfix.doctor/1); outside text is kept as it is."""

    def cert(info: CertInfo | None) -> dict[str, Any] | None:
        if info is None:
            return None
        return {
            "subject": info.subject,
            "names": list(info.names),
            "issuer": info.issuer,
            "not_before": info.not_before.isoformat(),
            "not_after": info.not_after.isoformat(),
            "self_signed": info.self_signed,
            "sha256": info.sha256,
        }

    setup, tls = report.setup, report.tls
    return {
        "schema": DOCTOR_SCHEMA,
        "root": str(setup.root.path),
        "mta": setup.mta,
        "layout": setup.layout,
        "config": setup.root.shown(setup.config),
        "host": report.host,
        "settings": dict(tls.values),
        "certificate": None
        if report.on_disk is None
        else {
            "path": report.on_disk.path,
            "key": report.on_disk.key_path,
            **(cert(report.on_disk.chain.leaf) or {}),
            "chain_length": len(report.on_disk.chain.der),
        },
        "served": [
            {
                "port": s.port,
                "mode": s.mode,
                "address": s.address,
                "certificate": cert(s.certificate),
                "error": s.error,
            }
            for s in report.served
        ],
        "renewal": None
        if report.renewal is None
        else {
            "lineage": report.renewal.lineage,
            "conf": report.renewal.conf,
            "server": report.renewal.server,
            "hooks": list(report.renewal.hooks),
            "reaches_mta": report.renewal.reaches,
            "why": report.renewal.why,
            "options": dict(report.renewal.options),
            "pre_post_hooks": [
                {"when": h.when, "command": h.command, "source": h.source}
                for h in report.renewal.around
            ],
            "newest": cert(report.renewal.newest),
            "schedule": None
            if report.schedule is None
            else {
                "timer": report.schedule.timer,
                "timer_enabled": report.schedule.timer_enabled,
                "timer_masked": report.schedule.timer_masked,
                "cron": list(report.schedule.cron),
                "runs": report.schedule.runs,
                "words": report.schedule.words,
            },
            "certbot": None
            if report.certbot is None
            else {
                "version": report.certbot.version,
                "source": report.certbot.source,
                "profiles": report.certbot.profiles,
                "ari": report.certbot.ari,
            },
        },
        "findings": [
            {
                "code": str(f.code),
                "severity": str(f.severity),
                "title": f.title,
                "detail": f.detail,
                "port": f.port,
                "evidence": dict(f.evidence),
            }
            for f in report.findings
        ],
        "notes": list(report.notes),
        "ok": report.ok,
    }
