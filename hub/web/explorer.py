"""The hub's explorer: GraphiQL opening on a welcome tab and the operations in ``examples/``.

``examples/`` holds one named operation per ``NAME.graphql`` (an optional leading ``#``
comment line says what it shows) and its variables, if any, in ``NAME.variables.json``.
Each becomes a tab, in file-name order, after the welcome tab. In dev the page also gets a
button that asks ``POST /dev/token`` for a resident token and puts it into the Headers editor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

EXAMPLES_DIRECTORY = Path(__file__).resolve().parents[2] / "examples"
_TEMPLATE = Path(__file__).with_name("graphiql_explorer.html")
_CONFIG_MARK = "__HUB_EXPLORER_CONFIG__"

WELCOME = """\
# i罗湖 Hub explorer · 罗湖区民生服务 GraphQL 网关
#
# The tabs above are example operations (from examples/ in the repository); run one with
# Ctrl-Enter or ▶. The Docs pane (top left) names the root fields in 中文 and English.
#
# Residents: queries under `me` need a resident token in Headers,
#   {"Authorization": "Bearer <token>"}
# In dev, the 令牌 (token) button in the toolbar fetches one for a seeded resident
# (R000001 …) and fills Headers; from a terminal, `ihub token R000001` prints one.
#
# Partners (ICBC, CCB, …) get a 10-minute token from POST /oauth/token
# (grant_type=client_credentials) and run only their manifest's operations
# (partners/*.manifest.json), by id with no document: {"documentId": "sha256:<id>"}.
# Front-ends use automatic persisted queries (APQ): send only the hash,
#   {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<sha256 of the query>"}}}
# and on PERSISTED_QUERY_NOT_FOUND resend it with the query; the hub keeps it for next time.
#
# A public query to start with · 公开查询，无需令牌:
query Welcome {
  garbageSorting { classify(item: "电池") { match { name category { name binColor } } } }
}
"""


class ExampleError(ValueError):
    """An example file is unreadable, or its variables are not a JSON object."""


@dataclass(frozen=True)
class Example:
    """One example operation: its file name (without ``.graphql``), document and variables."""

    name: str
    document: str
    variables: str | None = None

    def tab(self) -> dict[str, str]:
        tab = {"query": self.document}
        if self.variables is not None:
            tab["variables"] = self.variables
        return tab


def load_examples(directory: Path = EXAMPLES_DIRECTORY) -> list[Example]:
    """The ``*.graphql`` files of ``directory`` (none if it does not exist), by file name."""
    if not directory.is_dir():
        return []
    examples = []
    for path in sorted(directory.glob("*.graphql")):
        name = path.name.removesuffix(".graphql")
        variables_path = directory / f"{name}.variables.json"
        try:
            document = path.read_text(encoding="utf-8")
            variables = (
                variables_path.read_text(encoding="utf-8") if variables_path.is_file() else None
            )
        except (OSError, UnicodeDecodeError) as exc:
            raise ExampleError(f"{path}: {exc}") from exc
        if variables is not None:
            try:
                parsed = json.loads(variables)
            except json.JSONDecodeError as exc:
                raise ExampleError(f"{variables_path}: not JSON: {exc}") from exc
            if not isinstance(parsed, dict):
                raise ExampleError(f"{variables_path}: not a JSON object")
            variables = json.dumps(parsed, ensure_ascii=False, indent=2)
        examples.append(Example(name, document, variables))
    return examples


def _script_json(value: object) -> str:
    # inside <script>, only "</script" or "<!--" could end it early: no "<" survives
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def explorer_page(
    html: str, examples: Sequence[Example], *, dev_token_url: str | None = None
) -> str:
    """Strawberry's page with its inline script swapped for the explorer's (assets untouched)."""
    start = html.rindex("<script>")
    end = html.index("</script>", start) + len("</script>")
    if "GraphiQL" not in html[start:end]:
        raise ValueError("strawberry's GraphiQL page changed: no inline GraphiQL script")
    config = {
        "tabs": [{"query": WELCOME}, *(example.tab() for example in examples)],
        "devTokenUrl": dev_token_url,
    }
    script = _TEMPLATE.read_text(encoding="utf-8").replace(_CONFIG_MARK, _script_json(config))
    return html[:start] + script + html[end:]


def unavailable_page(directory: Path, problem: str | None) -> str:
    """What ``/graphql`` shows a browser while GraphiQL's assets are missing."""
    detail = (
        f"<p>The last attempt failed: <code>{escape(problem)}</code></p>"
        if problem
        else "<p>The hub is trying to fetch them in the background; reload in a moment.</p>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>i罗湖 Hub GraphiQL: assets missing</title>
<style>body {{ font-family: sans-serif; max-width: 46rem; margin: 3rem auto; line-height: 1.5 }}
code, pre {{ background: #f3f3f3; padding: .1rem .3rem }}</style></head>
<body><h1>GraphiQL's files are not here yet · GraphiQL 资源尚未下载</h1>
<p>The hub serves GraphiQL from its own copy of the npm packages the page pins, checked
against their integrity hashes, in <code>{escape(str(directory))}</code>. They are missing.</p>
{detail}
<p>Fetch them once (npm must reach a registry), then reload this page:</p>
<pre>.venv/bin/ihub graphiql fetch</pre>
<p>Everything else works meanwhile: <code>POST /graphql</code> answers queries as usual.</p>
</body></html>
"""
