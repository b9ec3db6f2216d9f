"""The command line of ``infill serve-ray``, built without Ray so ``--help`` and bad flags need no ``serve`` extra."""

from __future__ import annotations

import argparse

from engine.host.launch import EngineLaunch
from infill_http.settings import DEFAULT_PORT, HttpSettings


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``infill serve-ray``: the engine flags, the Ray Serve ones and the HTTP API's."""
    parser = argparse.ArgumentParser(
        prog="infill serve-ray",
        description="Serve the HTTP API of 'infill engine --http' from several engine replicas on Ray Serve, "
                    "each document's requests on the replica that holds its cache. Needs the serve extra: "
                    "pip install 'infill-diffusion[serve]'.")
    EngineLaunch.add_arguments(parser)
    parser.add_argument("--core-factory", default="", metavar="MODULE:FUNCTION",
                        help=argparse.SUPPRESS)  # tests only: build each replica's core with this function
    group = parser.add_argument_group("Ray Serve")
    group.add_argument("--replicas", type=int, default=1, metavar="N", help="engine replicas (default 1)")
    group.add_argument("--ingress-replicas", type=int, default=None, metavar="N",
                       help="replicas of the ingress (keys, limits, the API) that Serve's proxy spreads requests over, "
                            "so that no one process holds every request (default 2; 1 on a cluster of fewer than "
                            "2 CPUs); --max-in-flight is counted per ingress replica")
    group.add_argument("--gpus-per-replica", type=float, default=None, metavar="N",
                       help="GPUs per replica (default: 1 when the cluster has GPUs and --device is not cpu, else 0)")
    group.add_argument("--cpus-per-replica", type=float, default=1.0, metavar="N",
                       help="CPUs per replica (default 1; a CPU replica's torch uses this many threads)")
    group.add_argument("--ray-address", default="", metavar="ADDRESS",
                       help="join this Ray cluster ('auto': the one 'ray start' made here); default: start one")
    group.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                       help="log level (default info)")
    HttpSettings.add_arguments(parser)
    parser.set_defaults(http=("127.0.0.1", DEFAULT_PORT))
    return parser


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, EngineLaunch, HttpSettings]:
    """The flags, the engine launch and the HTTP settings they describe; a bad flag exits with status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    launch = EngineLaunch.from_args(args, parser)
    if args.replicas < 1:
        parser.error(f"--replicas must be at least 1, got {args.replicas}")
    if args.ingress_replicas is not None and args.ingress_replicas < 1:
        parser.error(f"--ingress-replicas must be at least 1, got {args.ingress_replicas}")
    try:
        settings = HttpSettings.from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    assert settings is not None
    return args, launch, settings
