"""Profile, attribute and tag updates from ``subscriber.subscribed``/``subscriber.updated``.

Detail: ``{email, firstName?, attributes?, tags?, add_tags?, remove_tags?}``.
``tags`` replaces the whole set (an empty list clears every tag); ``add_tags`` and
``remove_tags`` change it incrementally (applied after ``tags``; a tag in both is removed).
Attributes are merged; ``unsubscribed``/``suppressed`` are never touched; an unknown
address gets a profile. The store keeps the ``TAG#<tag>``/``SUB#<email>`` index in step
with the tags it writes, in the same conditional write. Nothing here starts a sequence
or publishes an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from mailstep.domain.errors import InvalidInput
from mailstep.domain.models import Subscriber, parse_tags
from mailstep.domain.ports import SubscriberStore

SUBSCRIBED = "subscriber.subscribed"
UPDATED = "subscriber.updated"
DETAIL_TYPES = (SUBSCRIBED, UPDATED)


def _tag_list(detail: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = detail.get(name)
    if value is None:
        return ()
    try:
        return parse_tags(value)
    except InvalidInput as error:
        raise InvalidInput(f"{name}: {error}") from None


def apply_update(store: SubscriberStore, detail: object, now: str) -> dict[str, Any]:
    """Upsert the profile the detail describes; raise ``InvalidInput`` on a bad detail."""
    if not isinstance(detail, Mapping):
        raise InvalidInput("detail must be an object")
    subscriber = Subscriber.from_payload(detail)
    add, remove = set(_tag_list(detail, "add_tags")), set(_tag_list(detail, "remove_tags"))
    replacement = subscriber.tags
    # Profile and attributes first (creating the profile), then the tags, as a change of
    # the stored set that the store writes conditionally together with the index rows.
    profile = store.upsert_profile(replace(subscriber, tags=None), now)
    tags = profile.tags
    if replacement is not None or add or remove:

        def change(current: tuple[str, ...]) -> tuple[str, ...]:
            base = set(current if replacement is None else replacement)
            return tuple(sorted((base | add) - remove))

        tags = store.change_tags(subscriber.email, change, now)
    return {"status": "updated", "email": profile.email, "tags": list(tags)}
