"""The motion search service the tests of this package share: started once for the package and stopped after its
last test, so that its replica's CPU goes back to the session's Ray head for the tests that train."""

import pytest

from tests.conftest import free_port
from tests.serving import SERVICE_UPLOAD_MB, start_service, stop_service


@pytest.fixture(scope="package")
def motion_service(ray_head, tmp_path_factory):
    """jobs/serve.py on the session's Ray head (tests/serving.py); stopped by Ctrl+C at the end, which must end it
    cleanly."""
    process, service = start_service(
        tmp_path_factory.mktemp("service"), ray_head.address, free_port(), "--max-upload-mb", str(SERVICE_UPLOAD_MB)
    )
    try:
        yield service
    finally:
        assert stop_service(process) == 0, service.log.read_text()[-5000:]
