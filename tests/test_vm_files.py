"""The Vagrantfile and the test VM (scripts/vm-test.sh) describe the same machine; the scripts parse.

No VM is started here: the VM run itself is scripts/vm-test.sh (CI runs it after the host suite).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VAGRANTFILE = (ROOT / "Vagrantfile").read_text()
VM_TEST = (ROOT / "scripts" / "vm-test.sh").read_text()
BUILD = (ROOT / "vm" / "build-image.sh").read_text()
GUEST = (ROOT / "vm" / "guest-run.sh").read_text()
SCRIPTS = ["scripts/vm-test.sh", "vm/build-image.sh", "vm/guest-run.sh", "vagrant/provision.sh", "scripts/test.sh"]


def _default(var: str) -> str:
    m = re.search(rf'\$\{{{var}:-([^}}]+)\}}', VM_TEST)
    assert m, f"scripts/vm-test.sh has no default for {var}"
    return m.group(1)


def test_same_release_resources_and_provisioning():
    # Debian 12 (bookworm) in both
    assert 'config.vm.box = "debian/bookworm64"' in VAGRANTFILE
    assert re.search(r"^\s+bookworm \"\$root\"", BUILD, re.MULTILINE), "build-image.sh must build bookworm"
    # the same memory and CPUs for every provider
    assert set(re.findall(r"\.memory = (\d+)", VAGRANTFILE)) == {_default("NETEMU_VM_MEM")}
    assert set(re.findall(r"\.cpus = (\d+)", VAGRANTFILE)) == {_default("NETEMU_VM_CPUS")}
    # the same provisioning: provision.sh --test with the repository at /vagrant
    assert "NETEMU_REPO=/vagrant bash /vagrant/vagrant/provision.sh --test" in VAGRANTFILE
    assert "NETEMU_REPO=/vagrant bash /vagrant/vagrant/provision.sh --test" in GUEST
    assert "NETEMU_REPO=/vagrant bash /vagrant/vagrant/provision.sh --test" in BUILD


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse(script):
    res = subprocess.run(["bash", "-n", str(ROOT / script)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


def test_provision_lists_its_packages_without_root():
    out = subprocess.run(["bash", str(ROOT / "vagrant/provision.sh"), "--list-packages", "--test"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert "python3-venv" in out and "iproute2" in out and "unbound" in out


def test_vagrant_validate(tmp_path):
    if shutil.which("vagrant") is None:
        pytest.skip("vagrant not installed (Debian's vagrant package validates the Vagrantfile offline)")
    # Its .vagrant state directory goes to tmp_path, not the repository.
    env = {**os.environ, "VAGRANT_DOTFILE_PATH": str(tmp_path / ".vagrant"), "VAGRANT_HOME": str(tmp_path / "home"),
           "VAGRANT_CHECKPOINT_DISABLE": "1"}
    res = subprocess.run(["vagrant", "validate", "--ignore-provider"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert res.returncode == 0 and "validated successfully" in res.stdout, res.stdout + res.stderr
