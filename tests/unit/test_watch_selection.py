"""What the operator watches: its children only through a label selector the API server applies, and no
handler-side label filter that would drop the event of an object leaving that selection."""

from __future__ import annotations

import kopf
from kopf._cogs.structs.references import Resource

from modelguard.api.kinds import CHILDREN, WATCHED
from modelguard.engine.runtime import Runtime, Settings
from modelguard.handlers.registry import build_registry, configure


def resource(group: str, version: str, plural: str, kind: str) -> Resource:
    return Resource(group=group, version=version, plural=plural, kind=kind, namespaced=True)


def test_children_are_selected_by_the_api_server_and_nothing_else_is() -> None:
    settings = kopf.OperatorSettings()
    configure(settings)
    for res in CHILDREN:
        found = settings.watching.label_selectors.collect(resource(res.group, res.version, res.plural, res.kind))
        assert found == ["app.kubernetes.io/managed-by=modelguard"], res.plural
    for res in WATCHED:  # the operator's own kinds: every object, whoever labelled it
        assert settings.watching.label_selectors.collect(resource(res.group, res.version, res.plural, res.kind)) == []
    # a resource of the same plural in another group is not narrowed by accident
    assert settings.watching.label_selectors.collect(resource("example.com", "v1", "deployments", "Deployment")) == []


def test_child_handlers_take_every_event_the_selected_watch_delivers() -> None:
    runtime = Runtime.__new__(Runtime)
    runtime.settings = Settings()  # only what registering reads: no webhook server, no I/O
    registry = build_registry(runtime)
    handlers = [h for h in registry._watching.get_all_handlers() if str(h.id).startswith("observe-")]
    children = {f"observe-{res.plural}" for res in CHILDREN}
    assert children <= {str(h.id) for h in handlers}
    for handler in handlers:
        if str(handler.id) in children:
            assert handler.labels is None  # a DELETED event of an object that lost its label must reach the cache
