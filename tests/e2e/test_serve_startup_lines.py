"""``handoff serve`` as started from a shell (issue 22, item 8): what it says on stderr,
and uvicorn's access log only with ``--access-log``.

What it says about reactors, on both stores: tests/integration/test_serve_startup.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.conftest import CLI
from tests.e2e.test_http import start_server


def _stderr_after_one_request(cli: CLI, *options: str) -> tuple[str, str]:
    process, url = start_server(cli, *options)
    try:
        assert httpx.get(f"{url}/openapi.json", timeout=30).status_code == 200
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert "Traceback" not in err, err
    return url, err


def test_serve_says_where_the_dashboard_is_and_logs_requests_only_when_asked(
    sqlite_url: str, tmp_path: Path
) -> None:
    cli = CLI(sqlite_url, tmp_path)
    cli.issue_tokens("code_agent")

    url, err = _stderr_after_one_request(cli, "--access-log")
    assert f"serving on {url} (Ctrl-C to stop)" in err
    assert f"dashboard: {url}/dashboard/" in err
    assert "warning: no reactor has run against this store" in err
    assert '"GET /openapi.json HTTP/1.1" 200' in err

    url, err = _stderr_after_one_request(cli, "--with-reactor")
    assert f"dashboard: {url}/dashboard/" in err
    assert "warning" not in err
    assert "GET /openapi.json" not in err  # no access log by default
