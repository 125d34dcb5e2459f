"""API keys in the gateway's nginx map are data, never syntax (issue 13, class 4)."""

from __future__ import annotations

import re

import pytest

from modelguard.builders.gateway import InvalidKeys, keys_map


def test_a_key_that_nginx_would_read_as_a_pattern_is_escaped() -> None:
    text = keys_map({"mallory": "~................", "trudy": "~alice-key-0123456789", "alice": "alice-key-0123456789"})
    assert _nginx_lookup(text, "alice-key-0123456789") == "alice"  # neither mallory's nor trudy's pattern
    assert _nginx_lookup(text, "anything-sixteen-chars-long") is None
    assert _nginx_lookup(text, "xx-alice-key-0123456789-xx") is None
    assert _nginx_lookup(text, "~................") == "mallory"
    assert _nginx_lookup(text, "~alice-key-0123456789") == "trudy"


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


def _nginx_lookup(map_body: str, value: str) -> str | None:
    """What nginx's `map` gives for `value` (ngx_http_map_find): string sources are lowercased into a hash and
    matched case-insensitively (two that lowercase alike make nginx refuse the configuration), then the regular
    expressions in order: `~` case-sensitive, `~*` not; a leading backslash makes a string of a source."""
    strings: dict[str, str] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for line in map_body.splitlines():
        match = re.fullmatch(r'"((?:[^"\\]|\\.)*)" "([^"]*)";', line)
        assert match, line
        source, client = match.groups()
        if source.startswith("~*"):
            patterns.append((re.compile(source[2:].replace("\\z", "\\Z"), re.IGNORECASE), client))
        elif source.startswith("~"):
            patterns.append((re.compile(source[1:].replace("\\z", "\\Z")), client))
        else:
            source = source.removeprefix("\\")
            assert source.lower() not in strings, "nginx: conflicting parameter (the whole configuration refused)"
            strings[source.lower()] = client
    if value.lower() in strings:
        return strings[value.lower()]
    return next((client for pattern, client in patterns if pattern.search(value)), None)


CASE_TWINS = {
    "alice": "Alice-Key-0123456789abcdef",
    "mallory": "ALICE-KEY-0123456789ABCDEF",
    "bob": "b.o+b/=_~-0123456789",
}


def test_a_key_matches_only_in_its_exact_case_and_case_twins_are_two_clients() -> None:
    """Issue 27, item 10: nginx matched keys case-insensitively and refused a map holding two keys that differ only
    in case."""
    body = keys_map(CASE_TWINS)
    for client, key in CASE_TWINS.items():
        assert _nginx_lookup(body, key) == client
        for variant in {key.lower(), key.upper(), key.swapcase()} - set(CASE_TWINS.values()):
            assert _nginx_lookup(body, variant) is None
        assert _nginx_lookup(body, "x" + key) is None and _nginx_lookup(body, key + "x") is None
        assert _nginx_lookup(body, key + "\n") is None


@pytest.mark.parametrize("key", ["~" * 16, "." * 16, "+" * 16, "=" * 16, "a.b+c/d=e_f~g-h-0123", "~.+/" + "a" * 16])
def test_every_character_a_key_may_hold_is_matched_as_itself(key: str) -> None:
    body = keys_map({"alice": "alice-key-0123456789", "eve": key})
    assert _nginx_lookup(body, key) == "eve"
    assert _nginx_lookup(body, "alice-key-0123456789") == "alice"
    assert _nginx_lookup(body, "a" * len(key)) is None
