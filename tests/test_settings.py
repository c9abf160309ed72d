"""One typed Settings for every variable: the README's table is generated from it, bad values are named."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hitl_web import cli, create_app
from hitl_web.devtools.settings_table import END, START, render_table, with_table
from hitl_web.engine import Client
from hitl_web.settings import DEPRECATED, VARIABLES, Settings, SettingsError
from hitl_web.stack import ROOT, TEST_SECRET
from hitl_web.web.sockets import slots

README = ROOT / "README.md"
HITL_NAME = re.compile(r"\bHITL_[A-Z][A-Z0-9_]*[A-Z0-9]")  # not the `HITL_*` of the prose


def test_the_readme_table_is_the_generated_one() -> None:
    readme = README.read_text()
    assert START in readme and END in readme
    assert with_table(readme) == readme, "run: python -m hitl_web.devtools.settings_table --write"
    for variable in VARIABLES.values():
        assert f"| `{variable}` |" in render_table()


def test_every_hitl_name_in_the_readme_is_a_setting_and_every_setting_is_in_the_readme() -> None:
    mentioned = set(HITL_NAME.findall(README.read_text()))
    fields = {variable for variable in VARIABLES.values() if variable.startswith("HITL_")}
    assert mentioned - fields - DEPRECATED.keys() == set(), "the README mentions variables nothing reads"
    assert fields - mentioned == set(), "settings the README does not mention"


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HITL_LEASE_SECONDS", "abc")
    with pytest.raises(SettingsError, match=r"HITL_LEASE_SECONDS='abc': Input should be a valid number") as caught:
        Settings.from_env()
    assert "validation error" not in str(caught.value) and "\n" not in str(caught.value)
    monkeypatch.setenv("HITL_LEASE_SECONDS", "-1")
    monkeypatch.setenv("HITL_ENV", "prod")  # a typo must not quietly mean local (open) mode
    monkeypatch.setenv("HITL_SESSION_IDLE", "soon")
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    message = str(caught.value)
    assert "HITL_LEASE_SECONDS='-1'" in message and "HITL_ENV='prod'" in message
    assert "HITL_SESSION_IDLE='soon': expected a duration" in message
    # The command line says it in one line and exits 1, as for any failed operation.
    assert cli.main(["runs"]) == cli.FAILED
    assert "hitl-web: invalid settings: HITL_LEASE_SECONDS='-1'" in capsys.readouterr().err


def test_a_secret_is_not_repeated_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="REDIS_URL:") as caught:
        Settings(redis_url=["redis://:hunter2@example:6379/0"])
    assert "hunter2" not in str(caught.value)


def test_overrides_apply_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_KEY_PREFIX", "from-env")
    monkeypatch.setenv("HITL_QUEUE_NAME", "env-queue")
    settings = Settings.from_env(key_prefix="given", lookback_max=3)
    assert (settings.key_prefix, settings.queue_name, settings.lookback_max) == ("given", "env-queue", 3)
    assert Settings.from_env().key_prefix == "from-env"
    monkeypatch.setenv("HITL_KEY_PREFIX", "changed")  # the cached parse follows the environment
    assert Settings.from_env().key_prefix == "changed"
    assert Settings.from_env() is Settings.from_env()
    with pytest.raises(SettingsError, match="HITL_LOOKBACK_MAX=0"):
        Settings.from_env(lookback_max=0)  # overrides are validated too


def test_redis_url_and_lists_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("HITL_WORKFLOW_MODULES", " tests.flows, hitl_web.examples,,")
    monkeypatch.setenv("HITL_LOG_LEVEL", "debug")
    monkeypatch.setenv("HITL_MAX_SOCKETS", "")  # empty: the default
    settings = Settings.from_env()
    assert settings.redis_url == "redis://127.0.0.1:1/0"
    assert Client().settings.redis_url == "redis://127.0.0.1:1/0"
    assert settings.workflow_modules == ("tests.flows", "hitl_web.examples")
    assert (settings.log_level, settings.max_sockets) == ("DEBUG", 5000)
    assert Settings.from_env(redis_url="redis://elsewhere/0").redis_url == "redis://elsewhere/0"
    monkeypatch.delenv("HITL_WORKFLOW_MODULES")
    assert Settings.from_env().workflow_modules == ("hitl_web.examples",)


def test_settings_are_frozen() -> None:
    settings = Settings.from_env()
    with pytest.raises(ValueError, match="frozen"):
        settings.key_prefix = "other"
    assert settings.model_copy(update={"key_prefix": "other"}).key_prefix == "other"


def test_the_web_process_reads_its_limits_from_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_ENV", "development")
    monkeypatch.setenv("HITL_MAX_SOCKETS", "7")
    monkeypatch.setenv("HITL_SIGNIN_FAILURES_PER_ADDRESS", "9")
    app = create_app({"TESTING": True, "SETTINGS": settings, "MAX_SOCKETS_PER_ADDRESS": 2})
    assert (slots(app).per_process, slots(app).per_address) == (7, 2)  # test_config still comes last
    assert app.config["SIGNIN_FAILURES_PER_ADDRESS"] == 9 and app.config["OPEN_MODE"] is True
    monkeypatch.setenv("HITL_SESSION_MAX", "99999999d")  # grammatical, but past the engine's 10 years
    with pytest.raises(SettingsError, match="HITL_SESSION_MAX: invalid duration"):
        create_app({"TESTING": True, "SETTINGS": settings, "SECRET_KEY": TEST_SECRET})


def test_the_gunicorn_config_imports_nothing_that_opens_sockets(tmp_path: Path) -> None:
    # gunicorn loads it before gevent patches the standard library.
    probe = (
        "import sys, hitl_web.gunicorn_conf as conf; "
        "print(conf.bind, conf.workers, sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'hitl_web', 'redis', 'rq', 'gevent', 'flask', 'werkzeug'}))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HITL_WEB_HOST": "::1", "PORT": "8123"}
    out = subprocess.run(
        [sys.executable, "-c", probe], env={**env, "WEB_CONCURRENCY": "3"}, cwd=tmp_path, capture_output=True, text=True
    ).stdout
    loaded = ["hitl_web", "hitl_web.gunicorn_conf", "hitl_web.metrics", "hitl_web.setting_types", "hitl_web.settings"]
    assert out.strip() == f"[::1]:8123 3 {loaded}"
    bad = subprocess.run(
        [sys.executable, "-c", probe],
        env={**env, "WEB_CONCURRENCY": "many"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "invalid settings: WEB_CONCURRENCY='many'" in bad.stderr.splitlines()[-1]


def test_only_settings_reads_the_environment() -> None:
    # Writing a child's environment (dev.py, stack.py) is no read.
    reads = re.compile(r"os\.environ\.get|os\.getenv|os\.environ\[[^]]+\](?!\s*=[^=])|environ\.items")
    readers = [
        str(path.relative_to(ROOT)) for path in (ROOT / "hitl_web").rglob("*.py") if reads.search(path.read_text())
    ]
    assert readers == ["hitl_web/settings.py"]


def test_the_journal_settings_still_read_their_old_names_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_STREAM_TTL", "5")
    with pytest.warns(DeprecationWarning, match="HITL_STREAM_TTL is deprecated: set HITL_JOURNAL_TTL"):
        assert Settings.from_env().journal_ttl == 5
    monkeypatch.setenv("HITL_JOURNAL_TTL", "7")  # the new name wins over the old one
    with pytest.warns(DeprecationWarning):
        assert Settings.from_env().journal_ttl == 7
    monkeypatch.setenv("HITL_STREAM_MAX_LEN", "0")
    with pytest.warns(DeprecationWarning), pytest.raises(SettingsError, match="HITL_JOURNAL_MAX_LEN='0'"):
        Settings.from_env()
