"""Type aliases shared by the IM layer, the XEP features and both clients (annotations only)."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, TypeVar, Union

#: What a listener decorator (``@client.roster.on_event``, ``@client.muc.on_message``...)
#: takes and returns unchanged, so that a decorated handler keeps its own type.
Listener = TypeVar("Listener", bound=Callable[..., Any])

#: A message body, subject or presence status: one text, or a mapping of xml:lang (None:
#: the stanza's language) to text; None for none.
Text = Union[None, str, Mapping[Optional[str], str]]
