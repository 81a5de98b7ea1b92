"""What the README, the docs and the package metadata claim (issue 14, points 3, 9 and 12)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from flask import Blueprint
from flask import Flask

from flask_kashflow_links import ConfigurationError
from flask_kashflow_links import KashFlowLinks
from flask_kashflow_links.testing import KashFlowSandbox

from .helpers import FERNET_KEY
from .helpers import ROOT
from .helpers import SECRET_KEY
from .helpers import portal_config

README = (ROOT / "README.md").read_text()
DOCS = {page.name: page.read_text() for page in (ROOT / "docs").glob("*.rst")}
REPOSITORY = "https://github.com/flask-kashflow-links/flask-kashflow-links"


def test_readme_links_and_images_are_absolute() -> None:
    """The README is the package index's page too, where relative paths lead nowhere."""
    targets = re.findall(r"\]\(([^)]+)\)", README) + re.findall(r'src="([^"]+)"', README)
    assert targets
    for target in targets:
        assert target.startswith("https://"), target
    images = re.findall(r'src="([^"]+)"', README)
    assert images and all(
        i.startswith(REPOSITORY.replace("github.com", "raw.githubusercontent.com") + "/main/")
        for i in images
    )


def test_pyproject_names_the_source_and_issues() -> None:
    # (tomllib is Python 3.11+; the table's lines are simple enough to read directly.)
    table = (ROOT / "pyproject.toml").read_text().split("[project.urls]\n")[1].split("\n\n")[0]
    urls = dict(re.findall(r'^(\w+) = "([^"]+)"$', table, re.MULTILINE))
    assert urls["Source"] == REPOSITORY
    assert urls["Issues"] == f"{REPOSITORY}/issues"
    for target in re.findall(r"\]\((https://github\.com/[^)]+)\)", README):
        assert target.startswith(f"{REPOSITORY}/blob/main/"), target


def test_one_factory_shape_on_every_page() -> None:
    pages = {"README.md": README, **DOCS}
    factories = {
        name: re.findall(r"def create_app\((.*?)\):", text) for name, text in pages.items()
    }
    shapes = {shape for found in factories.values() for shape in found}
    assert shapes == {"test_config=None"}, factories
    assert factories["README.md"] and factories["quickstart.rst"]
    # The testing page builds its apps with that factory, and reads no environment.
    assert "create_app({" in DOCS["testing.rst"] and "os.environ" not in DOCS["testing.rst"]


def test_the_docs_do_not_understate_the_startup_checks() -> None:
    text = "\n".join(DOCS.values())
    assert "**not** checked" not in text and "not cross-checked" not in text
    assert "is not checked at start-up" not in text
    base = DOCS["configuration.rst"].split(".. data:: KASHFLOW_LINKS_BASE_TEMPLATE")[1]
    checked = base.split("*Checked at start-up:*")[1].split(".. data::")[0]
    assert "exists" in checked and "``content``" in checked and "before" in checked
    prefix = DOCS["configuration.rst"].split(".. data:: KASHFLOW_LINKS_URL_PREFIX")[1]
    assert "KASHFLOW_LINKS_PUBLIC_URL" in prefix.split(".. data::")[0]
    assert "register it **before** calling" in DOCS["templates.rst"]


def test_the_documented_sandbox_command_is_the_public_one() -> None:
    text = "\n".join([README, *DOCS.values()])
    assert "python -m flask_kashflow_links._sandbox" not in text
    assert "python -m flask_kashflow_links.testing" in DOCS["quickstart.rst"]


def test_the_testing_page_lists_every_control_action_with_its_arguments(
    sandbox: KashFlowSandbox,
) -> None:
    answer = requests.post(f"{sandbox.origin}/_sandbox/faults", json={"action": "?"}, timeout=5)
    actions = ast.literal_eval(answer.json()["error"].split("use one of ", 1)[1])
    assert "fail_next" in actions and "set_soap_password_mode" in actions
    page = DOCS["testing.rst"].split("\nControl routes\n")[1].split("\n.. _")[0]
    rows = dict(re.findall(r"^   \* - ``(\w+)``\n     - (.+)$", page, re.MULTILINE))
    documented = {
        name: [] if cell == "none" else re.findall(r"``(\w+)``", cell)
        for name, cell in rows.items()
    }
    assert documented == {
        name: list(inspect.signature(getattr(sandbox, name)).parameters) for name in actions
    }


def test_the_signing_key_printed_in_the_docs_is_refused() -> None:
    shown = re.search(r"generate-key --kind signing\n\s+(\S+)\n", DOCS["cli.rst"])
    assert shown, "the sample output of generate-key --kind signing"
    app = Flask("docs_key")
    app.config.update(SECRET_KEY=shown.group(1), KASHFLOW_LINKS_FERNET_KEYS=[Fernet.generate_key()])
    with pytest.raises(ConfigurationError, match="documentation"):
        KashFlowLinks(app)


def layout_blueprint(tmp_path: Path) -> Blueprint:
    folder = tmp_path / "admin_templates" / "admin"
    folder.mkdir(parents=True)
    (folder / "layout.html").write_text(
        "<!doctype html><title>{% block title %}{% endblock %}</title>"
        "<main>ADMIN LAYOUT {% block content %}{% endblock %}</main>"
    )
    return Blueprint("admin", __name__, template_folder=str(tmp_path / "admin_templates"))


def app_with_layout(tmp_path: Path, sandbox: KashFlowSandbox) -> Flask:
    """A host app whose layout comes from a blueprint; the portal is not initialised yet."""
    app = Flask("host_with_blueprint", instance_path=str(tmp_path / "instance"))
    settings = {**portal_config(sandbox), "base_template": "admin/layout.html"}
    app.config.update({f"KASHFLOW_LINKS_{key.upper()}": value for key, value in settings.items()})
    app.config.update(
        SECRET_KEY=SECRET_KEY,
        SERVER_NAME="portal.example.test",
        KASHFLOW_LINKS_FERNET_KEYS=[FERNET_KEY],
    )
    return app


def test_a_layout_in_a_blueprint_registered_before_init_app_is_used(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    app = app_with_layout(tmp_path, sandbox)
    app.register_blueprint(layout_blueprint(tmp_path))
    KashFlowLinks(app)
    with app.app_context():
        url = KashFlowLinks().mint_invoice(1043).url
    page = app.test_client().get(url)
    assert page.status_code == 200 and b"ADMIN LAYOUT" in page.data


def test_a_layout_in_a_blueprint_registered_after_init_app_is_refused_with_the_rule(
    tmp_path: Path, sandbox: KashFlowSandbox
) -> None:
    app = app_with_layout(tmp_path, sandbox)
    with pytest.raises(ConfigurationError) as refused:
        KashFlowLinks(app)
    assert refused.value.key == "KASHFLOW_LINKS_BASE_TEMPLATE"
    assert "register the blueprint that provides it before calling init_app" in str(refused.value)
