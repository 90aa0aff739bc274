import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    unset = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DEBUG": "0",
            "SECRET_KEY": "x" * 30 + "-a-real-deployment-would-use-a-random-key-" + "y" * 20,
            "ALLOWED_HOSTS": "ml.example.com",
            "VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_manage("check", env={"DEBUG": "0", "VAR_DIR": str(tmp_path), "ALLOWED_HOSTS": "x"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("WORKERS", "many", "WORKERS must be a whole number, got 'many'"),
        ("DEBUG", "perhaps", "DEBUG must be a boolean"),
        ("SIGNUP_BONUS", "lots", "SIGNUP_BONUS must be a decimal number"),
    ],
)
def test_a_bad_setting_fails_loudly_and_names_itself(tmp_path, name, value, message):
    result = run_manage("check", env={name: value, "VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert message in result.stderr


def test_a_secret_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file-" + "z" * 50 + "\n")
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        env={"SECRET_KEY_FILE": str(secret), "VAR_DIR": str(tmp_path)},
    )
    assert result.stdout.strip().splitlines()[-1] == "from-a-file-" + "z" * 50
