"""DNS answers from a real, independent DNS server: dnsmasq from Debian."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gmailfix.connection import build
from gmailfix.diagnose import Diagnosis
from gmailfix.lab.runner import LabInfo
from tests.support.diagnosis import run_diagnosis
from tests.support.dnsmasq import running_dnsmasq


@pytest.fixture(scope="module")
def dnsmasq(lab: LabInfo) -> Iterator[str]:
    good = lab.addresses["good.test"]
    blog = lab.addresses["blog.test"]
    records = [
        "--mx-host=good.test,mail.good.test,10",
        f"--host-record=mail.good.test,{good}",
        f"--ptr-record={'.'.join(reversed(good.split('.')))}.in-addr.arpa,mail.good.test",
        "--mx-host=alias.test,mail.alias.test,10",
        "--cname=mail.alias.test,server42.isp.test",
        f"--host-record=server42.isp.test,{blog}",
    ]
    with running_dnsmasq(records) as address:
        yield address


def _diagnose(lab: LabInfo, dns: str, domain: str) -> Diagnosis:
    connect = dict(lab.connect)
    for port in (587, 465, 25):  # mail.alias.test is served by the ISP's server
        connect[("mail.alias.test", port)] = lab.by_domain["blog.test"][("mail.blog.test", port)]
    connection = build(dns_server=dns, ca_files=[str(lab.ca_file)], connect=connect, timeout=3)
    return run_diagnosis(connection, domain)


@pytest.mark.dnsmasq
def test_mx_a_and_ptr_from_dnsmasq(lab: LabInfo, dnsmasq: str) -> None:
    result = _diagnose(lab, dnsmasq, "good.test")
    assert [(mx.preference, mx.host) for mx in result.facts.mx] == [(10, "mail.good.test")]
    address = lab.addresses["good.test"]
    assert result.facts.ptr[address] == ("mail.good.test",)
    assert result.verdict.accept


@pytest.mark.dnsmasq
def test_cname_and_nxdomain_from_dnsmasq(lab: LabInfo, dnsmasq: str) -> None:
    alias = _diagnose(lab, dnsmasq, "alias.test")
    assert alias.facts.cnames["mail.alias.test"] == "server42.isp.test"
    codes = {f.code for f in alias.findings}
    assert {"cname-smtp-host", "hostname-mismatch"} <= codes
    assert alias.verdict.cause == "hostname-mismatch"
    missing = _diagnose(lab, dnsmasq, "nowhere.test")
    assert missing.verdict.cause == "nxdomain"
