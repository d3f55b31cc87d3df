"""Reading a context out of the kubeconfig files as kubectl does (clients.kubeconfig.resolve_context):
the merged $KUBECONFIG list, first file wins, paths relative to their own file, and errors that
name the file and the context."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from homelab_tui.clients.kube import KubeConfigError, list_contexts, load_target, ssl_context
from homelab_tui.clients.kubeconfig import KubeconfigInvalid, resolve_context


def write(path: Path, clusters=(), users=(), contexts=(), current: str | None = None) -> Path:
    config: dict = {"apiVersion": "v1", "kind": "Config",
                    "clusters": [{"name": n, "cluster": c} for n, c in clusters],
                    "users": [{"name": n, "user": u} for n, u in users],
                    "contexts": [{"name": n, "context": c} for n, c in contexts]}
    if current is not None:
        config["current-context"] = current
    path.write_text(yaml.safe_dump(config))
    return path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_merged_files_first_wins_like_kubectl(tmp_path, monkeypatch):
    first = write(tmp_path / "first", clusters=[("lab", {"server": "https://lab:6443"})],
                  users=[("admin", {"token": "first-token"})],
                  contexts=[("lab", {"cluster": "lab", "user": "admin", "namespace": "apps"})], current="lab")
    second = write(tmp_path / "second", clusters=[("lab", {"server": "https://other:6443"}),
                                                  ("far", {"server": "https://far:6443/"})],
                   users=[("admin", {"token": "second-token"})],
                   contexts=[("lab", {"cluster": "far", "user": "admin"}), ("far", {"cluster": "far", "user": "admin"})],
                   current="far")
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'missing'}:{second}")

    lab = resolve_context()
    assert (lab.context, lab.server, lab.token, lab.namespace) == ("lab", "https://lab:6443", "first-token", "apps")
    far = resolve_context(context="far")
    assert (far.server, far.token, far.namespace) == ("https://far:6443", "first-token", "default")
    assert [(c.name, c.current) for c in list_contexts()] == [("lab", True), ("far", False)]
    # an explicit path list is the same merge
    assert resolve_context(f"{second}:{first}").context == "far"


def test_the_configured_context_not_the_current_one(tmp_path):
    path = write(tmp_path / "config", clusters=[("a", {"server": "https://a"}), ("b", {"server": "https://b"})],
                 users=[("u", {"token": "t"})], contexts=[("a", {"cluster": "a", "user": "u"}),
                                                          ("b", {"cluster": "b", "user": "u"})], current="a")
    assert resolve_context(path, "b").server == "https://b"


def test_token_file_and_cert_files_are_relative_to_their_kubeconfig(tmp_path):
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "token").write_text("file-token\n")
    (tmp_path / "creds" / "ca.pem").write_bytes(b"CA PEM")
    (tmp_path / "creds" / "client.pem").write_bytes(b"CERT PEM")
    (tmp_path / "creds" / "client.key").write_bytes(b"KEY PEM")
    path = write(tmp_path / "config",
                 clusters=[("c", {"server": "https://c", "certificate-authority": "creds/ca.pem",
                                  "tls-server-name": "kubernetes"})],
                 users=[("t", {"tokenFile": "creds/token"}),
                        ("x", {"client-certificate": "creds/client.pem", "client-key": "creds/client.key"})],
                 contexts=[("t", {"cluster": "c", "user": "t"}), ("x", {"cluster": "c", "user": "x"})])
    token = resolve_context(path, "t")
    assert (token.token, token.ca_pem, token.tls_server_name, token.insecure) == ("file-token", b"CA PEM",
                                                                                "kubernetes", False)
    cert = resolve_context(path, "x")
    assert (cert.client_cert_pem, cert.client_key_pem, cert.token) == (b"CERT PEM", b"KEY PEM", "")


def test_inline_data_wins_and_insecure_is_read(tmp_path):
    path = write(tmp_path / "config",
                 clusters=[("c", {"server": "https://c", "certificate-authority-data": b64(b"CA"),
                                  "certificate-authority": "nowhere.pem", "insecure-skip-tls-verify": True})],
                 users=[("u", {"client-certificate-data": b64(b"CERT"), "client-key-data": b64(b"KEY"),
                               "token": "tok"})],
                 contexts=[("c", {"cluster": "c", "user": "u"})], current="c")
    target = resolve_context(path)
    assert (target.ca_pem, target.client_cert_pem, target.client_key_pem, target.insecure, target.token) == (
        b"CA", b"CERT", b"KEY", True, "tok")
    assert not target.plugin


def test_tls_is_verified_unless_the_kubeconfig_says_insecure(tmp_path):
    path = write(tmp_path / "config", clusters=[("safe", {"server": "https://safe"}),
                                                ("open", {"server": "https://open", "insecure-skip-tls-verify": True}),
                                                ("plain", {"server": "http://plain:8080"})],
                 contexts=[(n, {"cluster": n}) for n in ("safe", "open", "plain")])
    import ssl

    safe = ssl_context(load_target(path, "safe"))
    assert safe.verify_mode is ssl.CERT_REQUIRED and safe.check_hostname
    insecure = ssl_context(load_target(path, "open"))
    assert insecure.verify_mode is ssl.CERT_NONE and not insecure.check_hostname
    assert ssl_context(load_target(path, "plain")) is None


def test_a_bad_ca_or_client_certificate_is_a_config_error(tmp_path):
    path = write(tmp_path / "config", clusters=[("c", {"server": "https://c", "certificate-authority-data": b64(b"x")})],
                 users=[("u", {"client-certificate-data": b64(b"x"), "client-key-data": b64(b"y")})],
                 contexts=[("c", {"cluster": "c", "user": "u"})], current="c")
    with pytest.raises(KubeConfigError, match="context 'c'.*certificate authority"):
        ssl_context(load_target(path))


def test_exec_and_auth_provider_users_are_plugins(tmp_path):
    path = write(tmp_path / "config", clusters=[("c", {"server": "https://c"})],
                 users=[("e", {"exec": {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1"}}),
                        ("a", {"auth-provider": {"name": "oidc"}})],
                 contexts=[("e", {"cluster": "c", "user": "e"}), ("a", {"cluster": "c", "user": "a"})])
    assert resolve_context(path, "e").plugin and resolve_context(path, "a").plugin


def test_missing_context_cluster_user_and_files_are_named(tmp_path):
    path = write(tmp_path / "config", clusters=[("c", {"server": "https://c"})],
                 users=[("u", {"tokenFile": "gone"})],
                 contexts=[("c", {"cluster": "c", "user": "u"}), ("nocluster", {"cluster": "x", "user": "u"}),
                           ("nouser", {"cluster": "c", "user": "y"})], current="c")
    with pytest.raises(KubeconfigInvalid) as missing:
        resolve_context(path, "nope")
    assert str(missing.value) == f"context 'nope' not found in kubeconfig {path} (have: c, nocluster, nouser)"
    with pytest.raises(KubeconfigInvalid, match=f"kubeconfig {path}, context 'nocluster': cluster 'x' not found"):
        resolve_context(path, "nocluster")
    with pytest.raises(KubeconfigInvalid, match=f"kubeconfig {path}, context 'nouser': user 'y' not found"):
        resolve_context(path, "nouser")
    with pytest.raises(KubeconfigInvalid, match=f"context 'c': cannot read tokenFile {tmp_path / 'gone'}"):
        resolve_context(path)
    with pytest.raises(KubeConfigError, match="nope"):
        load_target(path, "nope")
    with pytest.raises(KubeConfigError, match="no kubeconfig found"):
        load_target(tmp_path / "absent")


def test_a_list_or_empty_kubeconfig_says_what_was_expected(tmp_path):
    listed = tmp_path / "listed"
    listed.write_text("- apiVersion: v1\n- kind: Config\n")
    with pytest.raises(KubeConfigError) as as_list:
        load_target(listed)
    assert str(as_list.value) == (f"kubeconfig {listed} holds a YAML list; expected a mapping with clusters, users, "
                                  "contexts and current-context")
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(KubeConfigError, match=f"kubeconfig {empty} is empty; expected a mapping"):
        list_contexts(empty)
    broken = tmp_path / "broken"
    broken.write_text("clusters: {a: 1}\n")
    with pytest.raises(KubeConfigError, match=f"kubeconfig {broken}: clusters is a dict; expected a list"):
        load_target(broken)
    # an empty file among others is skipped, as kubectl does
    good = write(tmp_path / "good", clusters=[("c", {"server": "https://c"})], contexts=[("c", {"cluster": "c"})],
                 current="c")
    assert load_target(f"{empty}:{good}").server == "https://c"
