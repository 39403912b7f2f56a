"""The coordinator's view of Flower's Grid, metered and bounded in time; run in the ServerApp.

Flower's legacy workflows wait for every reply without a limit; here each exchange waits at
most the plan's round timeout, so a client that is gone costs a round that long, not a day.
Each message that travels is counted as the bytes Flower sends for it (every object of the
message deflated, as its object store moves them), per round and per client node, in both
directions: what a federation costs on the wire, plain or secure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from flwr.app import Message, RecordDict
from flwr.proto.node_pb2 import NodeInfo  # pylint: disable=E0611
from flwr.serverapp.grid import Grid
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects
from flwr.supercore.run import Run


def message_bytes(message: Message) -> int:
    """The bytes of ``message`` as Flower moves it: its content's objects, deflated."""
    return sum(len(part.deflate()) for part in get_all_nested_objects(message).values())


class MeteredGrid(Grid):  # type: ignore[misc]  # flwr is untyped here
    """``inner`` with a time limit on each exchange and a byte count per round and node."""

    def __init__(self, inner: Grid, *, timeout_s: float) -> None:
        self.inner, self.timeout_s = inner, timeout_s
        self.bytes_down: dict[tuple[str, int], int] = defaultdict(int)  # to a node
        self.bytes_up: dict[tuple[str, int], int] = defaultdict(int)  # from it

    def set_run(self, run: Run) -> None:
        self.inner.set_run(run)

    @property
    def run(self) -> Run:
        return self.inner.run

    def create_message(self, content: RecordDict, message_type: str, dst_node_id: int,
                       group_id: str, ttl: float | None = None) -> Message:
        return self.inner.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.inner.get_node_ids())

    def get_nodes(self) -> Iterable[NodeInfo]:
        return list(self.inner.get_nodes())

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return list(self.inner.push_messages(messages))

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return list(self.inner.pull_messages(message_ids))

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        sent = list(messages)
        for message in sent:
            key = (message.metadata.group_id, message.metadata.dst_node_id)
            self.bytes_down[key] += message_bytes(message)
        replies = list(self.inner.send_and_receive(
            sent, timeout=self.timeout_s if timeout is None else timeout))
        for reply in replies:
            if reply.has_content():
                key = (reply.metadata.group_id, reply.metadata.src_node_id)
                self.bytes_up[key] += message_bytes(reply)
        return replies

    def round_bytes(self, server_round: int, node_id: int) -> tuple[int, int]:
        """(down, up): what travelled to and from ``node_id`` in ``server_round``."""
        key = (str(server_round), node_id)
        return self.bytes_down.get(key, 0), self.bytes_up.get(key, 0)
