"""What ``infill serve-ray`` finds on Ray, starts there, and takes down on exit: the cluster, Serve (its
controller and HTTP proxy) and the application, each only if this run started it.

On a cluster it joined (``--ray-address``), others may run their own Serve applications behind the same
proxy: the run deletes its own application by name and nothing else; Serve itself is shut down only when
this run started it and no other application runs there at exit. A cluster the run started is taken down
whole."""

from __future__ import annotations

import contextlib
import dataclasses
import logging

import ray
from ray import serve
from ray.serve.config import HTTPOptions

log = logging.getLogger(__name__)


class ClusterConflict(RuntimeError):
    """The joined cluster's Serve cannot take this application as asked (the message says why and what to do)."""


@dataclasses.dataclass(slots=True, kw_only=True)
class Footprint:
    """What this run started: only that is taken down on exit."""

    app_name: str
    started_ray: bool = False
    started_serve: bool = False
    deployed_app: bool = False


def serve_is_running() -> bool:
    """Whether Serve's controller runs on the connected cluster (someone started Serve there)."""
    from ray.serve._private.constants import SERVE_CONTROLLER_NAME, SERVE_NAMESPACE

    try:
        ray.get_actor(SERVE_CONTROLLER_NAME, namespace=SERVE_NAMESPACE)
    except ValueError:
        return False
    return True


def running_applications() -> list[str]:
    """The names of the Serve applications on the connected cluster (none when Serve is not running)."""
    return sorted(serve.status().applications)


def check_joinable(app_name: str, http_options: HTTPOptions) -> None:
    """Raise ClusterConflict when the running Serve already has an application named ``app_name`` (it belongs
    to someone else: it is neither replaced nor, on exit, deleted), or when its HTTP proxy listens elsewhere than
    asked (Serve has one proxy per node, shared by every application: a second address would be ignored)."""
    from ray.serve.context import _connect

    if app_name in running_applications():
        raise ClusterConflict(f"a Serve application named {app_name!r} already runs on this cluster: stop it "
                              f"first ('serve shutdown' stops every application; or delete {app_name!r} alone)")
    running = _connect().http_config
    if (running.host, running.port) != (http_options.host, http_options.port):
        raise ClusterConflict(f"Serve already runs on this cluster with its HTTP proxy on "
                              f"{running.host}:{running.port}, "
                              f"shared by every application there: run with --http {running.host}:{running.port}")
    if running.ssl_certfile != http_options.ssl_certfile or running.ssl_keyfile != http_options.ssl_keyfile:
        raise ClusterConflict("Serve already runs on this cluster with other TLS files (its proxy is shared by every "
                              "application there): run with the same --ssl-certfile and --ssl-keyfile")


def take_down(footprint: Footprint) -> None:
    """Delete what ``footprint`` says this run started, and nothing else (each step best effort: a step that
    fails is logged and the next one still runs)."""
    if footprint.deployed_app:
        try:
            serve.delete(footprint.app_name)
        except Exception as exc:  # noqa: BLE001 - the cluster may be gone already
            log.warning("could not delete the Serve application %r: %r", footprint.app_name, exc)
    if footprint.started_ray:
        with contextlib.suppress(Exception):
            serve.shutdown()
        ray.shutdown()
        return
    if footprint.started_serve:
        try:
            others = running_applications()
        except Exception as exc:  # noqa: BLE001 - unknown: leave Serve up rather than stop someone's application
            log.warning("could not list the Serve applications (%r); leaving Serve running", exc)
            return
        if others:
            log.info("leaving Serve running for the other applications on this cluster: %s", ", ".join(others))
        else:
            serve.shutdown()
    ray.shutdown()  # on a joined cluster: this process disconnects, the cluster stays
