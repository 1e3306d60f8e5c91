"""The README's emulator example, verbatim, through the installed pytest plugin's fixture."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_fixture_example(pytester: pytest.Pytester) -> None:
    text = README.read_text()
    example = next(
        block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "mailkit_emulator" in block
    )
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture(params=['asyncio', 'trio'])\ndef anyio_backend(request):\n"
        "    return request.param\n"
    )
    pytester.makepyfile(test_example=example)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=2)
