"""The README's quickstart shows the real output of the current code."""

from __future__ import annotations

import importlib.util
import re

from conftest import ROOT


def _generator():
    spec = importlib.util.spec_from_file_location("gen_readme", ROOT / "docs" / "gen_readme.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_quickstart_is_current_output():
    readme = (ROOT / "README.md").read_text("utf-8")
    assert _generator().render(readme) == readme, "README is stale: run python docs/gen_readme.py"


def test_readme_opens_with_the_two_setup_commands_that_ci_runs():
    readme = (ROOT / "README.md").read_text("utf-8")
    block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert block is not None
    assert readme.index(block.group(0)) < readme.index("## ")
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    for command in commands:
        assert command in ci, f"CI does not run the README command: {command}"
    assert "pytest" in commands[1]


def test_fhir_page_shows_the_current_output():
    doc = (ROOT / "docs" / "fhir.md").read_text("utf-8")
    assert _generator().render_fhir(doc) == doc, "docs/fhir.md is stale: run docs/gen_readme.py"


def test_docs_home_shows_the_current_quickstart():
    page = (ROOT / "docs" / "index.md").read_text("utf-8")
    assert _generator().render(page) == page, "docs/index.md is stale: run docs/gen_readme.py"


def test_readme_polars_one_liner_runs_and_matches_the_pandas_front(monkeypatch):
    """The README's polars block, run as written, gives interpret_frame's statuses."""
    import pandas as pd
    import pytest

    pytest.importorskip("polars")
    from b12labs.pandas import interpret_frame

    readme = (ROOT / "README.md").read_text("utf-8")
    block = next(
        b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "b12labs.polars" in b
    )
    monkeypatch.chdir(ROOT)
    scope: dict[str, object] = {}
    exec(block, scope)
    scored = scope["scored"]
    expected = interpret_frame(pd.read_csv(ROOT / "examples" / "messy_export.csv"))
    got = scored["b12labs_status"].cast(str).to_list()  # type: ignore[attr-defined]
    assert got == [None if pd.isna(v) else str(v) for v in expected["b12labs_status"]]


def test_readme_service_examples_are_answered_as_described():
    """The README's curl bodies, sent to the app in-process: the answers it describes."""
    import json

    import pytest

    pytest.importorskip("fastapi")
    import asyncio

    import httpx

    import b12labs
    from b12labs.service import create_app

    readme = (ROOT / "README.md").read_text("utf-8")
    calls = re.findall(r"curl -s http://127\.0\.0\.1:8000(\S+) .*?-d '(.*?)'\n", readme, re.S)
    assert [path for path, _ in calls] == ["/v1/interpret", "/cds-services/b12labs-patient-view"]
    (_, panel), (cds_path, hook) = calls

    async def post_both() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return [
                await client.post("/v1/interpret", json=json.loads(panel)),
                await client.post(cds_path, json=json.loads(hook)),
            ]

    answer, card_answer = asyncio.run(post_both())
    assert answer.status_code == 200, answer.text
    # the README says deficiency_likely: it is what interpret() answers for the same panel
    expected = b12labs.interpret(**json.loads(panel)).status.value
    assert answer.json()["status"] == expected == "deficiency_likely"
    assert card_answer.status_code == 200, card_answer.text
    cards = card_answer.json()["cards"]
    assert len(cards) == 1
    assert cards[0]["indicator"] == "warning"
    assert len(cards[0]["summary"]) < 140  # CDS Hooks 2.0: summary "<140 characters"
