"""The container image: built by scripts/image (Debian's buildah on an mmdebstrap base) and run as its
Containerfile says (its entrypoint and command, as uid 10001, config mounted, database by environment).

Podman cannot start a container on every host (crun needs CAP_SYS_RESOURCE for its rlimits), so the image
runs with `buildah run --isolation chroot`: the image's filesystem, user, environment and working folder,
on the host's network, which is where the probes reach it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from packaging.utils import canonicalize_name
from prometheus_client.parser import text_string_to_metric_families

from crm_emulators.runner import free_port

REPO = Path(__file__).resolve().parents[2]
TAG = "localhost/upm-connector:test"
UID = 10001
SITE = "/opt/upm-connector/lib/python3.11/site-packages"
SUDO = [] if os.geteuid() == 0 else ["sudo", "--non-interactive"]
CONFIG = """\
secrets: {key_file: /var/lib/upm-connector/upm-secrets.key}
daemon: {ready_unless: [NEEDS_AUTH, FAILING]}
connections: {}
"""
LOAD_DEFAULTS = """
import json, connector
from connector.config.loader import load_settings
from connector.daemon.references import check_references
from connector.mapping.loader import load_connection_profile
settings = load_settings(None)
print(json.dumps({
    "package": connector.__file__,
    "problems": [str(p) for p in check_references(settings)],
    "profiles": {name: [str(settings.resolve_mapping(c.mapping)), load_connection_profile(settings, name).profile.mode]
                 for name, c in settings.connections.items()},
}))
"""


def pins() -> dict[str, str]:
    """constraints.txt: normalized name -> version."""
    found = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, version = line.partition("==")
            found[canonicalize_name(name)] = version.strip()
    return found


def buildah(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SUDO, "buildah", *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def image() -> dict:
    """The image's Docker config (Entrypoint, Cmd, User, Env, Healthcheck), built by scripts/image."""
    built = subprocess.run([str(REPO / "scripts" / "image"), TAG], cwd=REPO, capture_output=True, text=True,
                           timeout=1500, check=False)
    assert built.returncode == 0, f"scripts/image failed:\n{built.stderr[-4000:]}"
    assert built.stdout.strip().splitlines()[-1] == TAG
    inspected = buildah("inspect", "--type", "image", TAG)
    assert inspected.returncode == 0, inspected.stderr
    return json.loads(inspected.stdout)["Docker"]["config"]


@contextmanager
def container() -> Iterator[str]:
    """A working container of the image (buildah's), removed afterwards."""
    made = buildah("from", "--pull-never", "--quiet", TAG)
    assert made.returncode == 0, made.stderr
    name = made.stdout.strip()
    try:
        yield name
    finally:
        buildah("rm", name)


def run_args(name: str, *command: str, volumes: dict[Path, str] | None = None, env: dict[str, str] | None = None,
             workdir: str | None = None) -> list[str]:
    args = [*SUDO, "buildah", "run", "--isolation", "chroot"]
    for source, target in (volumes or {}).items():
        args += ["-v", f"{source}:{target}"]
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    if workdir:
        args += ["--workingdir", workdir]
    return [*args, name, "--", *command]


def run(name: str, *command: str, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(run_args(name, *command, **options), capture_output=True, text=True, timeout=120,  # type: ignore[arg-type]
                          check=False)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the image's processes, seen from the host)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def daemon_process(pid: int) -> tuple[int, int]:
    """The pid and real uid of the `upm-connector run` process started under `pid`."""
    for child in descendants(pid):
        try:
            argv = (Path("/proc") / str(child) / "cmdline").read_bytes().split(b"\0")
            status = (Path("/proc") / str(child) / "status").read_text()
        except OSError:
            continue
        if any(arg.endswith(b"upm-connector") for arg in argv) and b"run" in argv and b"buildah" not in argv[0]:
            uid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:"))
            return child, uid
    raise AssertionError("no upm-connector process under the container")


def wait_ready(base_url: str, daemon: subprocess.Popen[bytes], log: Path, seconds: float = 180) -> requests.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert daemon.poll() is None, f"the container exited {daemon.returncode}:\n{log.read_text()[-3000:]}"
        try:
            answer = requests.get(base_url + "/readyz", timeout=5)
            if answer.status_code == 200:
                return answer
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise AssertionError(f"/readyz never answered 200:\n{log.read_text()[-3000:]}")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.mark.timeout(1800)
def test_the_image_serves_readyz_and_metrics_unprivileged_with_a_mounted_config(
        image: dict, database_url: str, tmp_path: Path) -> None:
    assert image["User"] == f"{UID}:{UID}"
    state = tmp_path / "state"
    state.mkdir()
    subprocess.run([*SUDO, "chown", f"{UID}:{UID}", str(state)], check=True, timeout=30)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    sqlite = database_url.startswith("sqlite")
    url = "sqlite:////var/lib/upm-connector/upm.db" if sqlite else database_url
    port = free_port()
    log = tmp_path / "container.log"
    with container() as name, log.open("wb") as out:
        # The bind mount is the image's VOLUME: buildah's own anonymous volume there is dropped, as a
        # runtime does when a volume is mounted on it (buildah 1.28 sometimes bound it over ours).
        assert "/var/lib/upm-connector" in image.get("Volumes", {})
        assert buildah("config", "--volume", "/var/lib/upm-connector-", name).returncode == 0
        command = run_args(name, *image["Entrypoint"], *image["Cmd"],
                           volumes={state: "/var/lib/upm-connector", config: "/etc/upm-connector/config.yaml:ro"},
                           env={"UPM_DATABASE_URL": url, "UPM_HTTP_BIND": f"127.0.0.1:{port}"})
        daemon = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            ready = wait_ready(f"http://127.0.0.1:{port}", daemon, log)
            body = ready.json()
            assert body["status"] == "ready" and body["checks"] == {"database": "ok", "scheduler": "ok"}
            assert body["reasons"] == [] and body["lanes"]["notifications:delivery"] in ("OK", "SYNCING")
            metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
            got = samples(metrics.text)
            states = {dict(labels)["state"] for (metric, labels), value in got.items()
                      if metric == "upm_connector_lane_state" and dict(labels)["lane"] == "notifications:delivery"
                      and value == 1.0}
            assert len(states) == 1 and states <= {"OK", "SYNCING"}
            assert got[("upm_connector_http_requests_total",
                        (("method", "GET"), ("route", "/readyz"), ("status", "200")))] >= 1
            pid, uid = daemon_process(daemon.pid)
            assert uid == UID, "the daemon runs as the image's unprivileged user"
            # The image's HEALTHCHECK command, on this run's port, passes.
            probe = [arg.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for arg in image["Healthcheck"]["Test"][1:]]
            assert image["Healthcheck"]["Test"][0] == "CMD" and "/readyz" in " ".join(probe)
            assert run(name, *probe).returncode == 0
            # SIGTERM (the image's STOPSIGNAL) stops the daemon cleanly.
            assert image.get("StopSignal", "SIGTERM") == "SIGTERM"
            subprocess.run([*SUDO, "kill", "-TERM", str(pid)], check=True, timeout=30)
            assert daemon.wait(timeout=90) == 0, log.read_text()[-3000:]
        finally:
            if daemon.poll() is None:
                subprocess.run([*SUDO, "kill", "-KILL", "--", f"-{daemon.pid}"], check=False, timeout=30)
                daemon.wait(timeout=30)
    if sqlite:
        assert (state / "upm.db").stat().st_uid == UID, "the datastore lives on the volume, owned by uid 10001"
    assert "daemon started" in log.read_text()


@pytest.mark.timeout(1800)
def test_the_installed_wheel_loads_its_defaults_and_profiles_outside_any_checkout(image: dict) -> None:
    with container() as name:
        assert run(name, "id", "-u").stdout.strip() == str(UID)
        # No config mounted: the image's config path is named, with no traceback.
        missing = run(name, *image["Entrypoint"], "config", "check")
        assert missing.returncode == 2 and "/etc/upm-connector/config.yaml" in missing.stderr
        assert "Traceback" not in missing.stderr
        # The embedded defaults and the shipped profiles, from the wheel installed in the image's venv.
        loaded = run(name, "python3", "-c", LOAD_DEFAULTS, env={"UPM_CONNECTOR_CONFIG": ""}, workdir="/tmp")
        assert loaded.returncode == 0, loaded.stderr
        report = json.loads(loaded.stdout)
        assert report["package"] == f"{SITE}/connector/__init__.py"
        assert report["problems"] == []
        assert report["profiles"] == {
            "vendor-salesforce": [f"{SITE}/connector/mappings/salesforce/complete.yaml", "complete"],
            "partner-hubspot": [f"{SITE}/connector/mappings/hubspot/partner.yaml", "advanced"],
        }
        # The image's venv holds exactly the locked versions (pip and setuptools come with the venv).
        listed = run(name, "python3", "-c", "import importlib.metadata as m, json; "
                     "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
        installed = {canonicalize_name(n): v for n, v in json.loads(listed.stdout).items()}
        locked = pins()
        assert "psycopg" in installed and "trustme" not in installed, "the postgres extra only"
        assert {n: v for n, v in installed.items() if n not in ("upm-connector", "pip", "setuptools")} == {
            n: locked.get(n) for n in installed if n not in ("upm-connector", "pip", "setuptools")}
        checked = run(name, *image["Entrypoint"], "config", "check", env={"UPM_CONNECTOR_CONFIG": ""}, workdir="/tmp")
        assert checked.returncode == 0 and "(embedded defaults): OK" in checked.stdout, shlex.join(
            [checked.stdout, checked.stderr])
