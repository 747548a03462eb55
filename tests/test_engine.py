"""Engine options a caller sets per request."""

from __future__ import annotations

import pytest

from ragmed.errors import InvalidRequestError
from ragmed.types import DraftEvent

pytest.importorskip("llama_cpp", reason="the llm extra (llama-cpp-python) is not installed")

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_max_new_tokens_limits_the_generated_draft(small_engine):
    def draft(limit: int) -> str:
        events = small_engine.stream("What are the symptoms of type 2 diabetes?", generator="llamacpp", max_new_tokens=limit,
                                     draft=True, audience="clinician")
        return "".join(e.text for e in events if isinstance(e, DraftEvent))

    short, longer = draft(8), draft(96)
    assert 0 < len(short.split()) <= 8 < len(longer.split())
    with pytest.raises(InvalidRequestError, match="max_new_tokens must be greater than 0, got 0"):
        small_engine.ask("What causes flu?", max_new_tokens=0)
