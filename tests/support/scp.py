"""Real pynetdicom Storage SCPs on loopback that behave like awkward PACS servers.

``running_scp(...)`` starts one on a free port of 127.0.0.1 (non-blocking server),
yields its address, and always shuts it down. What it does is chosen by arguments:
which calling AE titles it accepts (others get a real A-ASSOCIATE-RJ), which SOP
classes it accepts, and the C-STORE handler (store, hang, answer a failure status,
abort the association).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.orthanc import free_port

STORAGE_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
)
VERIFICATION = "1.2.840.10008.1.1"


@contextmanager
def running_scp(*, ae_title: str = "HOSTILE", require_calling_aet: list[str] | None = None,
                sop_classes: tuple[str, ...] = STORAGE_CLASSES,
                on_store: Callable[[Any], int] | None = None,
                on_requested: Callable[[Any], None] | None = None) -> Iterator[str]:
    """An SCP on loopback; yields ``AE@127.0.0.1:port``. ``on_store(event)`` returns the
    C-STORE status (default 0x0000, stored)."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE, evt

    ae = AE(ae_title=ae_title)
    ae.add_supported_context(VERIFICATION)
    for uid in sop_classes:
        ae.add_supported_context(uid, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    if require_calling_aet is not None:
        ae.require_calling_aet = require_calling_aet
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    handlers = [(evt.EVT_C_STORE, on_store or (lambda event: 0x0000))]
    if on_requested is not None:
        handlers.append((evt.EVT_REQUESTED, on_requested))
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=handlers)
    try:
        yield f"{ae_title}@127.0.0.1:{port}"
    finally:
        server.shutdown()
