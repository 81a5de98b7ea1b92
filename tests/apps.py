"""App factories for tests that run the portal under gunicorn.

``gunicorn 'tests.apps:make_portal()'`` with ``KFL_APP_CONFIG`` holding a JSON dict of app
config. Test-only routes under ``/_test`` let a test act through one particular process
(revoke a link through host A, then check host B) and read its counters.
"""

from __future__ import annotations

import json
import os
import tempfile

from flask import Blueprint
from flask import Flask
from flask import jsonify

from flask_kashflow_links import KashFlowLinks


def make_portal() -> Flask:
    app = Flask("portal", instance_path=tempfile.mkdtemp(prefix="kfl-gunicorn-"))
    app.config.update(json.loads(os.environ["KFL_APP_CONFIG"]))
    links = KashFlowLinks(app)
    test_api = Blueprint("test_api", __name__, url_prefix="/_test")

    @test_api.post("/revoke/<link_id>")
    def revoke(link_id: str) -> str:
        links.revoke(link_id)
        return "revoked"

    @test_api.get("/stats")
    def stats() -> object:
        counters = links.stats()
        return jsonify(
            pid=os.getpid(),
            fetch=counters["fetch"],
            requests=counters["rest"]["requests"],
            logins=counters["rest"]["logins"],
            cache_errors=counters["cache"]["errors"],
        )

    app.register_blueprint(test_api)
    return app
