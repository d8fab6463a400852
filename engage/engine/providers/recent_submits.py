"""Which message a provider's id stands for, remembered by the sender that submitted it, for the
receipt that usually comes back on the same bind moments later.

The receipt then travels with the id of the message it settles, and the receipts worker settles it
without looking the provider's id up among every part ever sent (`engage bench send`: that lookup
was a tenth of PostgreSQL's time). Only single-part messages are remembered: a long message's
status follows all its parts, which only the database knows. What is forgotten (evicted, another
process's bind, a restart) is looked up as before: this is a shortcut, never the only way."""

from __future__ import annotations

from collections import OrderedDict

from engage.engine.providers.message_ids import normalise_id

CAPACITY = 100_000  # ids; ten seconds at 10,000 messages a second, some 15 MB


class RecentSubmits:
    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self._ids: OrderedDict[str, int] = OrderedDict()

    def remember(self, provider_message_id: str, message_id: int) -> None:
        self._ids[normalise_id(provider_message_id)] = message_id
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def take(self, provider_message_id: str) -> int | None:
        """The message submitted under this id, forgotten once taken: a final receipt comes once."""
        return self._ids.pop(normalise_id(provider_message_id), None)

    def __len__(self) -> int:
        return len(self._ids)
