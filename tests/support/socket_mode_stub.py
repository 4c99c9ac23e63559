"""Slack's side of Socket Mode on 127.0.0.1: a stdlib RFC 6455 server that sends envelopes.

A real ``slack_sdk`` Socket Mode client connects to it as it would to
``wss://wss-primary.slack.com/link/?ticket=...``: ``FakeSlack.socket_url = stub.new_url`` makes
``apps.connections.open`` hand out a fresh one-time URL of this server on every call. On connect
the stub sends Slack's ``hello``; ``send_envelope`` delivers a payload the way Slack does
(``{"envelope_id", "type", "payload", "accepts_response_payload"}``) and ``wait_ack`` returns
the payload the app acknowledged it with. The stub is strict where Slack is: client frames must
be masked, the handshake must be a proper Upgrade to a URL it handed out, and anything else is
recorded in ``protocol_errors`` for the test to assert empty.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

JsonDict = dict[str, Any]

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LINK_PATH = "/link/"
APP_ID = "A1"

OPCODE_CONTINUATION = 0x0
OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9
OPCODE_PONG = 0xA

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
MAX_HANDSHAKE_BYTES = 16_384
MAX_MESSAGE_BYTES = 4_000_000


def accept_key(client_key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    digest = hashlib.sha1((client_key.strip() + WEBSOCKET_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final frame: what a server sends (RFC 6455 section 5.1)."""
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size <= 125:
        head += bytes([size])
    elif size <= 0xFFFF:
        head += bytes([126]) + struct.pack("!H", size)
    else:
        head += bytes([127]) + struct.pack("!Q", size)
    return head + payload


class ProtocolError(Exception):
    """The client broke RFC 6455; the connection is closed with 1002."""


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) < size:
        raise EOFError("the client closed the connection")
    return data


def read_frame(stream: BinaryIO) -> tuple[bool, int, bytes]:
    """(fin, opcode, unmasked payload) of one client frame; clients must mask (section 5.3)."""
    first, second = _read_exactly(stream, 2)
    if first & 0x70:
        raise ProtocolError("reserved bits set without a negotiated extension")
    fin, opcode = bool(first & 0x80), first & 0x0F
    if not second & 0x80:
        raise ProtocolError("an unmasked frame from the client")
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", _read_exactly(stream, 2))
    elif size == 127:
        (size,) = struct.unpack("!Q", _read_exactly(stream, 8))
    if opcode >= OPCODE_CLOSE and (size > 125 or not fin):
        raise ProtocolError("a control frame longer than 125 bytes or fragmented")
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"a {size}-byte frame")
    mask = _read_exactly(stream, 4)
    masked = _read_exactly(stream, size)
    return fin, opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(masked))


@dataclass
class Connection:
    """One WebSocket client the stub accepted."""

    sock: socket.socket
    path: str
    ticket: str
    opened_at: float
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    # Set when the connection ended, whoever ended it; close_code is None when the client just
    # dropped the TCP connection without a close frame.
    ended: threading.Event = field(default_factory=threading.Event)
    close_code: int | None = None
    pings: int = 0

    def send(self, opcode: int, payload: bytes) -> None:
        with self.send_lock:
            self.sock.sendall(encode_frame(opcode, payload))

    def send_json(self, message: JsonDict) -> None:
        self.send(OPCODE_TEXT, json.dumps(message).encode("utf-8"))


class FakeSocketMode:
    """Slack's Socket Mode endpoint on 127.0.0.1:<ephemeral port>; a context manager.

    Envelopes go to the newest open connection, as Slack sends each one over one of the app's
    connections.
    """

    def __init__(self) -> None:
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Condition()
        self._connections: list[Connection] = []
        self._acks: dict[str, JsonDict] = {}
        self._ack_counts: dict[str, int] = {}
        self._sent: dict[str, JsonDict] = {}
        self._tickets: set[str] = set()
        self._stopping = threading.Event()
        self.protocol_errors: list[str] = []
        self.unexpected_messages: list[JsonDict] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSocketMode:
        if self._listener is not None:
            return self
        self._stopping.clear()
        listener = socket.create_server(("127.0.0.1", 0))
        self._listener = listener
        self._thread = threading.Thread(
            target=self._accept_loop,
            name=f"FakeSocketMode:{listener.getsockname()[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        listener = self._listener
        if listener is None:
            return
        self._stopping.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            self._drop(connection)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._listener = None
        self._thread = None

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("FakeSocketMode is not running: call start() or use a with block")
        return int(self._listener.getsockname()[1])

    def new_url(self) -> str:
        """A fresh one-time URL in Slack's shape, as each apps.connections.open call returns."""
        ticket = str(uuid.uuid4())
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}{LINK_PATH}?ticket={ticket}&app_id={APP_ID}"

    # -- what happened -----------------------------------------------------------------------

    @property
    def connections(self) -> list[Connection]:
        with self._lock:
            return list(self._connections)

    def open_connections(self) -> list[Connection]:
        return [c for c in self.connections if not c.ended.is_set()]

    def wait_connected(self, timeout: float = 10.0) -> Connection:
        """The newest open connection, once a client has completed the handshake."""
        with self._lock:
            found = self._lock.wait_for(
                lambda: next(
                    (c for c in reversed(self._connections) if not c.ended.is_set()), None
                ),
                timeout,
            )
        if found is None:
            raise AssertionError(f"no Socket Mode client connected within {timeout} s")
        return found

    def ack_count(self, envelope_id: str) -> int:
        with self._lock:
            return self._ack_counts.get(envelope_id, 0)

    # -- Slack's side of the conversation ----------------------------------------------------

    def send_envelope(
        self,
        envelope_type: str,
        payload: JsonDict,
        *,
        accepts_response_payload: bool = True,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> str:
        """Send ``payload`` as Slack does (types: slash_commands, interactive, events_api)."""
        envelope_id = str(uuid.uuid4())
        envelope: JsonDict = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": envelope_type,
            "accepts_response_payload": accepts_response_payload,
        }
        if retry_attempt is not None:
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason or ""
        connection = self.wait_connected(timeout=5)
        with self._lock:
            self._sent[envelope_id] = envelope
        connection.send_json(envelope)
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> JsonDict:
        """The payload the app acknowledged ``envelope_id`` with ({} for a bare ack)."""
        with self._lock:
            if envelope_id not in self._sent:
                raise KeyError(f"no envelope {envelope_id} was sent")
            acked = self._lock.wait_for(lambda: envelope_id in self._acks, timeout)
            if not acked:
                raise AssertionError(f"envelope {envelope_id} was not acknowledged in {timeout} s")
            return json.loads(json.dumps(self._acks[envelope_id]))  # type: ignore[no-any-return]

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does before it recycles a connection."""
        connection = self.wait_connected(timeout=5)
        connection.send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-test"}}
        )

    # -- server threads ----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                sock, _address = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _protocol_error(self, message: str) -> None:
        with self._lock:
            self.protocol_errors.append(message)

    def _serve(self, sock: socket.socket) -> None:
        stream = sock.makefile("rb")
        try:
            connection = self._handshake(sock, stream)
            if connection is None:
                return
            with self._lock:
                self._connections.append(connection)
                self._lock.notify_all()
            connection.send_json(
                {
                    "type": "hello",
                    "num_connections": len(self.open_connections()),
                    "debug_info": {
                        "host": "applink-test",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": APP_ID},
                }
            )
            self._read_loop(connection, stream)
        finally:
            stream.close()
            with contextlib.suppress(OSError):
                sock.close()

    def _handshake(self, sock: socket.socket, stream: BinaryIO) -> Connection | None:
        raw = b""
        while not raw.endswith(b"\r\n\r\n"):
            line = stream.readline(MAX_HANDSHAKE_BYTES)
            if not line:
                return None
            raw += line
            if len(raw) > MAX_HANDSHAKE_BYTES:
                break
        request_line, *header_lines = raw.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for header in header_lines:
            name, sep, value = header.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        parts = request_line.split(" ")
        target = urlsplit(parts[1]) if len(parts) == 3 else None
        ticket = (parse_qs(target.query).get("ticket") or [""])[0] if target else ""
        with self._lock:
            known_ticket = ticket in self._tickets
            self._tickets.discard(ticket)  # a ticket opens one connection
        problem = None
        if target is None or parts[0] != "GET" or parts[2] != "HTTP/1.1":
            problem = f"not an HTTP/1.1 GET: {request_line!r}"
        elif target.path != LINK_PATH or not known_ticket:
            problem = f"not a URL apps.connections.open handed out: {parts[1]!r}"
        elif headers.get("upgrade", "").lower() != "websocket":
            problem = "no Upgrade: websocket"
        elif "upgrade" not in headers.get("connection", "").lower():
            problem = "no Connection: Upgrade"
        elif headers.get("sec-websocket-version") != "13":
            problem = "Sec-WebSocket-Version is not 13"
        elif not _is_websocket_key(headers.get("sec-websocket-key", "")):
            problem = "Sec-WebSocket-Key is not 16 random bytes in base64"
        if problem is not None:
            self._protocol_error(f"handshake refused: {problem}")
            with contextlib.suppress(OSError):
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return None
        sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(headers['sec-websocket-key'])}\r\n"
                "\r\n"
            ).encode("ascii")
        )
        return Connection(sock=sock, path=parts[1], ticket=ticket, opened_at=time.monotonic())

    def _read_loop(self, connection: Connection, stream: BinaryIO) -> None:
        fragments: list[bytes] = []
        fragmented_opcode: int | None = None
        try:
            while True:
                fin, opcode, data = read_frame(stream)
                if opcode == OPCODE_PING:
                    connection.pings += 1
                    connection.send(OPCODE_PONG, data)
                elif opcode == OPCODE_PONG:
                    pass
                elif opcode == OPCODE_CLOSE:
                    code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                    connection.close_code = code
                    with contextlib.suppress(OSError):
                        connection.send(OPCODE_CLOSE, data[:2])
                    return
                elif opcode in (OPCODE_TEXT, OPCODE_BINARY):
                    if fragmented_opcode is not None:
                        raise ProtocolError("a new message before the fragmented one ended")
                    if fin:
                        self._receive(opcode, data)
                    else:
                        fragmented_opcode, fragments = opcode, [data]
                elif opcode == OPCODE_CONTINUATION:
                    if fragmented_opcode is None:
                        raise ProtocolError("a continuation frame with nothing to continue")
                    fragments.append(data)
                    if fin:
                        self._receive(fragmented_opcode, b"".join(fragments))
                        fragmented_opcode, fragments = None, []
                else:
                    raise ProtocolError(f"unknown opcode {opcode:#x}")
        except ProtocolError as exc:
            self._protocol_error(str(exc))
            with contextlib.suppress(OSError):
                connection.send(OPCODE_CLOSE, struct.pack("!H", CLOSE_PROTOCOL_ERROR))
        except (EOFError, OSError):
            pass  # the client went away (or stop() closed the socket)
        finally:
            with self._lock:
                connection.ended.set()
                self._lock.notify_all()

    def _receive(self, opcode: int, data: bytes) -> None:
        if opcode != OPCODE_TEXT:
            raise ProtocolError("a binary message; Socket Mode speaks JSON text")
        try:
            message = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError(f"a text message that is not JSON: {data[:80]!r}") from exc
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        with self._lock:
            if not isinstance(envelope_id, str) or envelope_id not in self._sent:
                self.unexpected_messages.append(message)
                return
            self._ack_counts[envelope_id] = self._ack_counts.get(envelope_id, 0) + 1
            payload = message.get("payload")
            self._acks.setdefault(envelope_id, payload if isinstance(payload, dict) else {})
            self._lock.notify_all()

    def _drop(self, connection: Connection) -> None:
        with contextlib.suppress(OSError):
            connection.send(OPCODE_CLOSE, struct.pack("!H", CLOSE_NORMAL))
        with contextlib.suppress(OSError):
            connection.sock.shutdown(socket.SHUT_RDWR)
        connection.ended.wait(2)


def _is_websocket_key(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == 16
    except ValueError:
        return False
