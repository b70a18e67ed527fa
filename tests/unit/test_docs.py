"""The front door stays true: README lists every setting, and CI runs the README's test command."""
from pathlib import Path

from stream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = [env for _, env, _, _ in Settings.describe() if f"`{env}`" not in readme]
    assert missing == []


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert ci[-1] == "make test"
