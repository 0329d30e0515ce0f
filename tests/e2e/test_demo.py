"""``hanoinet demo``: three real nodes on loopback play the Lotus scenario through their APIs, print their addresses,
keep running until Ctrl-C, and then all stop; ``--exercise`` brings the same network up for participants."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import HANOINET, free_port
from tests.e2e.signin import post_login


def _demo(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANOINET_")}
    env["NO_COLOR"] = "1"
    return subprocess.Popen(
        [HANOINET, "demo", "--dir", str(tmp_path / "net"), "--base-port", str(free_port()), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """What the demo printed up to the line containing ``marker``."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if marker in line:
            return "".join(seen)
    process.kill()
    pytest.fail(f"the demo never printed {marker!r}:\n{''.join(seen)}")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=60)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError):
                continue
    return found


def test_the_demo_plays_lotus_across_three_nodes_and_stops_them_all_on_ctrl_c(tmp_path: Path) -> None:
    demo = _demo(tmp_path)
    try:
        output = _read_until(demo, "press Ctrl-C", timeout=240)
        assert "EXERCISE DATA" in output
        assert "scenario complete" in output
        # Each step of Lotus went through the network, the evidence was verified on arrival, Art 36 held.
        for expected in (
            "vnm-ca → sgp-247: Emergency request (EMERGENCY) sent (Art 41)",
            "sgp-247: acknowledge → acknowledged",
            "vnm-ca → sgp-247: Preservation request sent (Art 42)",
            "sgp-247: preserve → preserved",
            "Stored-data MLA request sent (Art 44)",
            "more_information_requested",
            "verified on arrival; custody: transfer_in → verify",
            "refused — ",
            "Art 36",
            "consent granted",
            "vnm-ca → chl-ca: 1 item(s)",
        ):
            assert expected in output, expected
        addresses = re.findall(r"http://127\.0\.0\.1:(\d+)/docs", output)
        assert len(addresses) == 3
        for port in addresses:
            assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        # A trainee signs in at Viet Nam's node with the printed handler account and finds the case's requests.
        signins = re.findall(r"web sign-in \(user / password\): handler / (\S+)", output)
        assert len(signins) == 3
        with httpx.Client(base_url=f"http://127.0.0.1:{addresses[0]}", timeout=10) as browser:
            landed = post_login(browser, "handler", signins[0])
            assert landed.status_code == 303
            inbox = browser.get("/inbox?direction=outgoing")
            assert inbox.status_code == 200
            assert "LOTUS" in inbox.text
            assert "Preservation" in inbox.text
            wrong = post_login(browser, "duty", signins[0])
            assert wrong.status_code == 401  # each account has its own random password
        nodes = _children(demo.pid)
        assert len(nodes) == 3
        demo.send_signal(signal.SIGINT)
        rest = demo.communicate(timeout=60)[0]
        assert demo.returncode == 0, rest
        assert "all nodes stopped" in rest
        assert "Traceback" not in output + rest
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in nodes) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in nodes)
        for port in addresses:
            with pytest.raises(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        _stop(demo)


def test_an_exercise_brings_the_network_up_and_leaves_the_steps_to_the_participants(tmp_path: Path) -> None:
    demo = _demo(tmp_path, "--exercise", "lotus")
    try:
        output = _read_until(demo, "press Ctrl-C", timeout=120)
        assert "training exercise" in output
        assert "clocks run 1440.0x faster" in output
        assert "the steps are yours to play" in output
        assert "scenario complete" not in output
        port = re.findall(r"http://127\.0\.0\.1:(\d+)/docs", output)[0]
        token = re.findall(r"API token (hnt_\S+)", output)[0]
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/requests", timeout=5).status_code == 401
        inbox = httpx.get(f"http://127.0.0.1:{port}/api/v1/requests", headers=bearer, timeout=5).json()
        assert inbox == []  # nothing was played for them
        directory = httpx.get(f"http://127.0.0.1:{port}/api/v1/directory", headers=bearer, timeout=5).json()
        assert sorted(p["node_id"] for p in directory) == ["chl-ca", "sgp-247"]
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 0
    finally:
        _stop(demo)
