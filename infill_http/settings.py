"""Where the HTTP API listens, who may use it, and its limits: ``infill engine --http`` and its flags."""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8012  # llama.vim's default endpoint
log = logging.getLogger(__name__)
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


# ---- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str  # what logs and fairness use; never the key
    digest: bytes  # sha256 of the key


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSettings:
    """Where the HTTP API listens and the limits it enforces."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_keys: tuple[ApiKey, ...] = ()
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    max_context_chars: int = 1_000_000  # prefix + suffix + cross-file context, in characters
    max_candidates: int = 8
    max_in_flight: int = 16  # requests one client (key, or address when keyless) may have in flight
    request_timeout_s: float = 120.0
    body_timeout_s: float = 15.0  # a client must send its whole body within this
    allowed_origins: tuple[str, ...] = ()  # web pages (exact origins) that may call the API, with CORS
    max_connections: int = 512  # open connections in all; idle ones make room for new ones
    max_connections_per_address: int = 128
    header_timeout_s: float = 10.0  # a connection must send a request's headers within this, or is closed
    max_header_bytes: int = 64 * 1024

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def check(self) -> None:
        """Raise ValueError for a setup that would be unsafe or cannot work."""
        if not self.loopback and not self.api_keys:
            raise ValueError(
                f"--http {self.host}:{self.port} is reachable from other machines: give --api-key-file "
                "(one key a line) so that only holders of a key can use the engine, or bind to 127.0.0.1"
            )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("TLS needs both --ssl-certfile and --ssl-keyfile")
        for path in (self.ssl_certfile, self.ssl_keyfile):
            if path is not None and not path.is_file():
                raise ValueError(f"{path}: no such file")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be in 1-65535, got {self.port}")
        for origin in self.allowed_origins:
            if not re.fullmatch(r"https?://[^/\s]+", origin.rstrip("/")):
                raise ValueError(f"--allow-origin takes an origin such as https://tool.example, got {origin!r}")

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("HTTP API (llama.cpp /infill, OpenAI /v1/completions, remote editors)")
        group.add_argument("--http", default=None, metavar="HOST:PORT", type=_host_port,
                           help=f"serve the HTTP API on HOST:PORT (e.g. 127.0.0.1:{DEFAULT_PORT}); any address "
                                "but loopback needs --api-key-file")
        group.add_argument("--api-key-file", type=Path, default=None, metavar="FILE",
                           help="API keys, one a line (NAME:KEY or KEY); clients send 'Authorization: Bearer KEY'")
        group.add_argument("--ssl-certfile", type=Path, default=None, metavar="FILE", help="TLS certificate (PEM)")
        group.add_argument("--ssl-keyfile", type=Path, default=None, metavar="FILE", help="TLS private key (PEM)")
        group.add_argument("--max-body-mb", type=_positive(float), default=4.0, metavar="MB",
                           help="largest request body (default 4)")
        group.add_argument("--max-in-flight", type=_positive(int), default=16, metavar="N",
                           help="requests one client (API key, or address) may have in flight, over HTTP and "
                                "WebSockets together (default 16)")
        group.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                           help="let web pages from ORIGIN (e.g. https://tool.example) call the API, with CORS "
                                "headers; repeat for several. Every other page is refused")
        group.add_argument("--request-timeout", type=_positive(float), default=120.0, metavar="SECONDS",
                           help="longest a request may take before it is cancelled with 504 (default 120)")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> HttpSettings | None:
        """The settings the flags describe, or None without ``--http``; raises ValueError for bad ones."""
        if args.http is None:
            for flag in ("api_key_file", "ssl_certfile", "ssl_keyfile"):
                if getattr(args, flag) is not None:
                    raise ValueError(f"--{flag.replace('_', '-')} needs --http HOST:PORT")
            return None
        host, port = args.http
        keys = load_api_keys(args.api_key_file) if args.api_key_file is not None else ()
        settings = cls(
            host=host,
            port=port,
            api_keys=keys,
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
            max_body_bytes=int(args.max_body_mb * 1024 * 1024),
            max_in_flight=args.max_in_flight,
            request_timeout_s=args.request_timeout,
            allowed_origins=tuple(args.allow_origin),
        )
        settings.check()
        return settings


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_port(text: str) -> tuple[str, int]:
    match = re.fullmatch(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\s]*)):(?P<port>\d{1,5})", text)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:{DEFAULT_PORT}), got {text!r}")
    host = match["v6"] or match["host"] or "127.0.0.1"
    return host, int(match["port"])


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not value > 0 or (isinstance(value, float) and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


_KEY_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def load_api_keys(path: Path) -> tuple[ApiKey, ...]:
    """Read ``path``: one key a line, ``#`` comments. A line with a ``:`` is always ``NAME:KEY`` (the key may
    hold more colons); a line without one is a bare ``KEY``, named key-1, key-2... Keys are printable ASCII
    of at least 16 characters; names are letters, digits and ``_.@-``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the API key file {path}: {exc}") from None
    keys: list[ApiKey] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, key = line.partition(":")
        if not sep:
            name, key = f"key-{len(keys) + 1}", line
        name, key = name.strip(), key.strip()
        if not _KEY_NAME.fullmatch(name):
            raise ValueError(f"{path}:{number}: a line with ':' is NAME:KEY, and {name[:20]!r} is not a name "
                             "(letters, digits, _.@-); for a key that holds ':', write a name first: NAME:KEY")
        if len(name) >= 16:
            log.warning(f"{path}:{number}: read as NAME:KEY with the name {name[:8]}...; if the whole line is one key, "
                 "write a name before it (NAME:KEY)")
        if not key.isascii() or not key.isprintable():
            raise ValueError(f"{path}:{number}: a key must be printable ASCII (clients send it in an HTTP header)")
        if len(key) < 16 or any(c.isspace() for c in key):
            raise ValueError(f"{path}:{number}: a key must be at least 16 characters without spaces")
        keys.append(ApiKey(name, hashlib.sha256(key.encode()).digest()))
    if not keys:
        raise ValueError(f"{path} holds no API key")
    return tuple(keys)
