"""API keys in the gateway's nginx map are data, never syntax (issue 13, class 4)."""

from __future__ import annotations

import pytest

from modelguard.builders.gateway import InvalidKeys, keys_map


def test_a_key_that_nginx_would_read_as_a_pattern_is_escaped() -> None:
    text = keys_map({"mallory": "~................", "trudy": "~alice-key-0123456789", "alice": "alice-key-0123456789"})
    assert '"\\~................" "mallory";' in text
    assert '"\\~alice-key-0123456789" "trudy";' in text
    assert '"alice-key-0123456789" "alice";' in text


@pytest.mark.parametrize(
    "key",
    [
        'quote"-0123456789abcdef',
        "back\\slash-0123456789abc",
        "semi;colon-0123456789abc",
        "space key 0123456789abc",
        "brace}-0123456789abcdef",
        "dollar$var-0123456789abc",
        "new\nline-0123456789abcd",
        "short",
    ],
)
def test_keys_with_characters_nginx_interprets_are_refused_without_echoing_them(key: str) -> None:
    with pytest.raises(InvalidKeys) as refused:
        keys_map({"client": key})
    assert key not in str(refused.value) and "client" in str(refused.value)
