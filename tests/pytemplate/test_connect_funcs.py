"""pytemplate's Connect functions: `connect` (both engines) against a real agent's mesh view, and
`caLeaf` / `caRoots` decoded from Consul's JSON and, where the agent serves the CA endpoints,
rendered from a real agent's leaf and roots (the nginx-connect-proxy recipe's three files)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytemplate.brain import Brain
from pytemplate.connect_deps import CARoot, HealthConnectQuery, LeafCert, LeafQuery, RootsQuery
from pytemplate.template import Template
from tests.pytemplate.helpers import TemplateProcess, read
from tests.support.agents import AgentProcess
from tests.support.wait import wait_until

ROOTS_JSON = {"ActiveRootID": "15:bf:3a", "TrustDomain": "7f42f496-fbc7-8692-05ed-334aa5340c1e.consul", "Roots": [{
    "ID": "15:bf:3a", "Name": "Consul CA Primary Cert", "SerialNumber": 7,
    "SigningKeyID": "2d:09:5d", "ExternalTrustDomain": "7f42f496-fbc7-8692-05ed-334aa5340c1e",
    "NotBefore": "2018-05-25T21:39:23Z", "NotAfter": "2028-05-22T21:39:23Z",
    "RootCert": "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n", "IntermediateCerts": None,
    "Active": True, "PrivateKeyType": "ec", "PrivateKeyBits": 256, "CreateIndex": 8, "ModifyIndex": 8}]}
LEAF_JSON = {"SerialNumber": "08", "CertPEM": "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n",
             "PrivateKeyPEM": "-----BEGIN EC PRIVATE KEY-----\nKEY\n-----END EC PRIVATE KEY-----\n",
             "Service": "web", "ServiceURI": "spiffe://7f42f496.consul/ns/default/dc/dc1/svc/web",
             "ValidAfter": "2018-05-25T21:39:23Z", "ValidBefore": "2018-05-28T21:39:23Z",
             "CreateIndex": 11, "ModifyIndex": 11}


def test_identities_and_requests_are_consul_templates() -> None:
    dep = HealthConnectQuery.parse("web")
    assert dep.key == "health.connect(web|passing)"
    assert dep.request().path == "/v1/health/connect/web" and ("passing", "1") in dep.request().params
    assert HealthConnectQuery.parse("v1.web@dc1|any").key == "health.connect(v1.web@dc1|any)"
    assert LeafQuery(service="web").key == "connect.caleaf(web)"
    assert LeafQuery(service="web").request().path == "/v1/agent/connect/ca/leaf/web"
    assert RootsQuery().key == "connect.caroots"
    assert RootsQuery().request().path == "/v1/agent/connect/ca/roots"


def test_decoding_the_documented_shapes() -> None:
    roots = RootsQuery().decode(200, ROOTS_JSON)
    assert roots == [CARoot(ID="15:bf:3a", Name="Consul CA Primary Cert", SerialNumber=7, SigningKeyID="2d:09:5d",
                            ExternalTrustDomain="7f42f496-fbc7-8692-05ed-334aa5340c1e",
                            NotBefore="2018-05-25T21:39:23Z", NotAfter="2028-05-22T21:39:23Z",
                            RootCertPEM=ROOTS_JSON["Roots"][0]["RootCert"], Active=True, PrivateKeyType="ec",
                            PrivateKeyBits=256, CreateIndex=8, ModifyIndex=8)]
    leaf = LeafQuery(service="web").decode(200, LEAF_JSON)
    assert isinstance(leaf, LeafCert) and leaf.SerialNumber == "08" and leaf.PrivateKeyPEM.startswith("-----BEGIN EC")


def render(text: str, brain: Brain, engine: str = "go") -> tuple[str, list[str]]:
    """(the text, the keys of the dependencies still missing)."""
    tmpl = Template(text, "t.j2" if engine == "jinja" else "t.ctmpl")
    result = tmpl.render(brain, {}, 0.0)
    return result.contents.decode(), list(result.missing)


def test_recipe_templates_render_from_the_brain() -> None:
    brain = Brain()
    brain.remember(RootsQuery(), RootsQuery().decode(200, ROOTS_JSON))
    brain.remember(LeafQuery(service="ingress"), LeafQuery(service="ingress").decode(200, LEAF_JSON))
    out, _ = render("{{range caRoots}}{{.RootCertPEM}}{{end}}", brain)
    assert out == ROOTS_JSON["Roots"][0]["RootCert"]
    out, _ = render('{{with caLeaf "ingress"}}{{.CertPEM}}{{.PrivateKeyPEM}}{{end}}', brain)
    assert out == LEAF_JSON["CertPEM"] + LEAF_JSON["PrivateKeyPEM"]
    out, _ = render('{% for r in ca_roots() %}{{ r.Name }}{% endfor %}|{{ ca_leaf("ingress").Service }}', brain,
                    engine="jinja")
    assert out == "Consul CA Primary Cert|web"


def test_missing_leaf_keeps_the_template_waiting() -> None:
    out, missing = render('{{with caLeaf "api"}}{{.CertPEM}}{{end}}', Brain())
    assert out == "" and missing == ["connect.caleaf(api)"]


def register_proxy(agent: AgentProcess, sid: str, dest: str, port: int, status: str = "passing") -> None:
    body = {"Node": "tmpl-" + sid, "Address": "10.30.0.1", "Service": {
        "ID": sid, "Service": dest + "-sidecar-proxy", "Kind": "connect-proxy", "Port": port,
        "Proxy": {"DestinationServiceName": dest}},
        "Check": {"CheckID": "c-" + sid, "Name": "listening", "Status": status, "ServiceID": sid}}
    code, _, text = agent.request("PUT", "/v1/catalog/register", body)
    assert code == 200, text


def test_connect_follows_the_mesh_in_both_engines(shared_agent: AgentProcess, tmp_path: Path) -> None:
    go_src, jinja_src = tmp_path / "upstreams.ctmpl", tmp_path / "upstreams.j2"
    go_src.write_text('{{range connect "webserver"}}proxy_pass https://{{.Address}}:{{.Port}};\n{{end}}')
    jinja_src.write_text('{% for s in connect("webserver") %}{{ s.ID }} {{ s.Kind }}\n{% endfor %}')
    go_out, jinja_out = tmp_path / "up.conf", tmp_path / "up.txt"
    register_proxy(shared_agent, "ws-proxy-1", "webserver", 21001)
    register_proxy(shared_agent, "ws-proxy-bad", "webserver", 21009, status="critical")
    p = TemplateProcess(tmp_path, "-consul-addr", shared_agent.http_addr, "-template", f"{go_src}:{go_out}",
                        "-template", f"{jinja_src}:{jinja_out}")
    try:
        # Each template is written on its own; the critical proxy is left out of both.
        wait_until(lambda: read(go_out) == "proxy_pass https://10.30.0.1:21001;\n", 20.0, what="first Go render")
        wait_until(lambda: read(jinja_out) == "ws-proxy-1 connect-proxy\n", 20.0, what="first Jinja render")
        register_proxy(shared_agent, "ws-proxy-2", "webserver", 21002)
        wait_until(lambda: "21002" in read(go_out) and "ws-proxy-2" in read(jinja_out), 20.0, what="new proxy")
    finally:
        assert p.stop() == 0, p.log()


def test_ca_functions_against_a_real_agent(shared_agent: AgentProcess, tmp_path: Path) -> None:
    status, _, _ = shared_agent.request("GET", "/v1/agent/connect/ca/roots")
    if status == 404:
        pytest.skip("this agent does not serve the Connect CA endpoints")
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    files = {"ca.crt": "{{range caRoots}}{{.RootCertPEM}}{{end}}",
             "cert.pem": '{{with caLeaf "ingress"}}{{.CertPEM}}{{end}}',
             "cert.key": '{{with caLeaf "ingress"}}{{.PrivateKeyPEM}}{{end}}'}
    args = []
    for name, text in files.items():
        (tmp_path / f"{name}.tmpl").write_text(text)
        args += ["-template", f"{tmp_path / (name + '.tmpl')}:{tmp_path / name}"]
    proc = subprocess.run([sys.executable, "-m", "pytemplate", "once", "-consul-addr", shared_agent.http_addr, *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    root = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    leaf = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    key = serialization.load_pem_private_key((tmp_path / "cert.key").read_bytes(), None)
    assert leaf.issuer == root.subject
    uris = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier)
    assert [u.rsplit("/", 1)[-1] for u in uris] == ["ingress"]
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()  # type: ignore[union-attr]
