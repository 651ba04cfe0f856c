"""The motion search service over HTTP, end to end: jobs/serve.py on the session's Ray head (tests/serving.py),
asked as a client asks it: every endpoint, bad requests of each kind (each refused with its code and message, and
the next request served), concurrent queries batched without changing their answers."""

import concurrent.futures
import http.client
import io
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import requests

from jobs import export as export_job
from lavimo.data.datasets import DATASET_SPECS
from lavimo.export.motions import export_motion
from tests.bvh_reader import read_bvh
from tests.serving import SERVICE_UPLOAD_MB

pytestmark = pytest.mark.e2e
LIMIT = SERVICE_UPLOAD_MB * 2**20
HUMANML3D_SPEC = DATASET_SPECS["humanml3d"]


def _text(service, text="a person jumps twice", k=3, **extra):
    return requests.post(f"{service.url}/search/text", json={"text": text, "k": k, **extra}, timeout=60)


def _upload(service, name, data, k=None):
    fields = {"k": str(k)} if k is not None else {}
    return requests.post(
        f"{service.url}/search/video", files={"file": (name, data, "video/mp4")}, data=fields, timeout=120
    )


def _still_serves(service):
    answer = _text(service)
    assert answer.status_code == 200, answer.text


def _check_results(body, k, ids):
    results = body["results"]
    assert [r["rank"] for r in results] == list(range(1, k + 1))
    assert all(r["motion_id"] in ids and r["video_url"] == f"/motions/{r['motion_id']}/video" for r in results)
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True) and all(-1.0 <= s <= 1.0 for s in scores)
    assert all(r["duration_s"] > 0 and r["caption"] for r in results)
    assert all(r["joints_url"] == f"/motions/{r['motion_id']}/joints.npy" for r in results)
    assert all(r["bvh_url"] == f"/motions/{r['motion_id']}.bvh" for r in results)


def test_health_and_a_text_query(motion_service):
    health = requests.get(f"{motion_service.url}/healthz", timeout=30).json()
    assert health["status"] == "ok" and health["motions"] == len(motion_service.motion_ids)
    answer = _text(motion_service, k=4)
    assert answer.status_code == 200, answer.text
    assert answer.json()["query"] == "a person jumps twice"
    _check_results(answer.json(), 4, motion_service.motion_ids)


def test_the_openapi_page_lists_every_endpoint(motion_service):
    assert "swagger" in requests.get(f"{motion_service.url}/docs", timeout=30).text.lower()
    paths = set(requests.get(f"{motion_service.url}/openapi.json", timeout=30).json()["paths"])
    assert paths == {
        "/healthz",
        "/search/text",
        "/search/video",
        "/search/motion/{motion_id}",
        "/motions/{motion_id}",
        "/motions/{motion_id}/video",
        "/motions/{motion_id}/joints.npy",
        "/motions/{motion_id}.bvh",
    }


def test_concurrent_text_queries_get_the_answers_they_get_alone(motion_service):
    texts = ["a person walks forward", "a person jumps twice", "someone waves with the left hand"] * 4
    alone = {text: _text(motion_service, text).json()["results"] for text in set(texts)}
    with concurrent.futures.ThreadPoolExecutor(len(texts)) as pool:
        together = list(pool.map(lambda text: _text(motion_service, text), texts))
    for text, answer in zip(texts, together):
        assert answer.status_code == 200, answer.text
        got = answer.json()["results"]
        assert [r["motion_id"] for r in got] == [r["motion_id"] for r in alone[text]]
        np.testing.assert_allclose([r["score"] for r in got], [r["score"] for r in alone[text]], atol=1e-5)


def test_a_video_query_and_motions_like_a_motion(motion_service):
    motion_id, clip = next(iter(motion_service.videos.items()))
    answer = _upload(motion_service, "clip.mp4", Path(clip).read_bytes(), k=3)
    assert answer.status_code == 200, answer.text
    assert answer.json()["query"] == "clip.mp4"
    _check_results(answer.json(), 3, motion_service.motion_ids)
    like = requests.get(f"{motion_service.url}/search/motion/{motion_id}", params={"k": 5}, timeout=60)
    assert like.status_code == 200, like.text
    _check_results(like.json(), 5, motion_service.motion_ids)
    assert motion_id not in [r["motion_id"] for r in like.json()["results"]]


def test_a_motion_its_clip_with_range_requests_and_its_joints(motion_service):
    motion_id = motion_service.motion_ids[0]
    motion = requests.get(f"{motion_service.url}/motions/{motion_id}", timeout=30).json()
    assert motion["motion_id"] == motion_id and motion["captions"] and motion["duration_s"] > 0
    clip = Path(motion_service.videos[motion_id]).read_bytes()
    whole = requests.get(motion_service.url + motion["video_url"], timeout=30)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4" and whole.content == clip
    part = requests.get(motion_service.url + motion["video_url"], headers={"Range": "bytes=100-199"}, timeout=30)
    assert part.status_code == 206 and part.content == clip[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(clip)}"
    joints = requests.get(motion_service.url + motion["joints_url"], timeout=30)
    assert joints.content == export_motion(str(motion_service.data_root), HUMANML3D_SPEC, motion_id, "npy")
    assert np.load(io.BytesIO(joints.content)).shape == (31, 22, 3)  # the dataset's joints file: T = 30 + 1


def test_a_motion_as_bvh_is_what_the_export_job_writes(motion_service, tmp_path):
    motion_id = motion_service.motion_ids[-1]  # a mirrored one
    motion = requests.get(f"{motion_service.url}/motions/{motion_id}", timeout=30).json()
    answer = requests.get(motion_service.url + motion["bvh_url"], timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert f"filename*=UTF-8''{motion_id}.bvh" in answer.headers["content-disposition"]
    export_job.main(
        [
            "--set",
            f"data.root={motion_service.data_root}",
            "--set",
            "data.dataset=humanml3d",
            "--id",
            motion_id,
            "--out",
            str(tmp_path / "exported.bvh"),
        ]
    )
    assert answer.content == (tmp_path / "exported.bvh").read_bytes()
    assert read_bvh(answer.text).names[:2] == ["Pelvis", "L_Hip"]


def test_a_motion_whose_files_turned_bad_is_a_500_naming_the_file(motion_service):
    motion_id = motion_service.motion_ids[0]
    joints_file = motion_service.data_root / "new_joints" / f"{motion_id}.npy"
    good = joints_file.read_bytes()
    bad = np.load(joints_file)
    bad[3, 7] = np.nan
    np.save(joints_file, bad)
    try:
        answer = requests.get(f"{motion_service.url}/motions/{motion_id}.bvh", timeout=30)
    finally:
        joints_file.write_bytes(good)
    assert answer.status_code == 500 and f"{joints_file}: NaN" in answer.json()["detail"], answer.text
    assert requests.get(f"{motion_service.url}/motions/{motion_id}.bvh", timeout=30).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "   ", "k": 3}, "text: the query is empty"),
        ({"text": "", "k": 3}, "text: the query is empty"),
        ({"text": "a person waves", "k": 0}, "greater than or equal to 1"),
        ({"text": "a person waves", "k": 101}, "less than or equal to 100"),
        ({"k": 3}, "Field required"),
    ],
)
def test_a_bad_text_query_is_refused_with_422_and_the_next_is_served(motion_service, body, message):
    answer = requests.post(f"{motion_service.url}/search/text", json=body, timeout=30)
    assert answer.status_code == 422 and message in answer.text, answer.text
    _still_serves(motion_service)


def test_an_upload_over_the_limit_is_refused_before_it_is_read(motion_service):
    """A request that declares more than the limit and sends nothing more: the answer comes without a body."""
    address = urlparse(motion_service.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.putrequest("POST", "/search/video")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(LIMIT + 1))
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 413 and f"the limit is {LIMIT} bytes".encode() in answer.read()
    connection.close()
    _still_serves(motion_service)


def test_an_upload_over_the_limit_without_a_length_is_cut_off_at_the_limit(motion_service):
    """A chunked upload (no Content-Length) of twice the limit: refused once the limit is passed."""

    def body():
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
        for _ in range(2 * LIMIT // 2**16):
            yield bytes(2**16)
        yield b"\r\n--x--\r\n"

    answer = requests.post(
        f"{motion_service.url}/search/video",
        data=body(),
        timeout=120,
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert answer.status_code == 413 and f"over the limit of {LIMIT} bytes" in answer.text, answer.text
    _still_serves(motion_service)


@pytest.mark.parametrize(
    ("name", "data", "status", "message"),
    [
        ("notes.mp4", b"this is not a video at all" * 100, 400, "notes.mp4: "),
        ("empty.mp4", b"", 400, "empty.mp4: the file is empty"),
    ],
)
def test_an_upload_that_is_not_a_video_is_refused_naming_it(motion_service, name, data, status, message):
    before = set(Path(tempfile.gettempdir()).glob("lavimo-upload-*"))
    answer = _upload(motion_service, name, data)
    assert answer.status_code == status and message in answer.json()["detail"], answer.text
    assert set(Path(tempfile.gettempdir()).glob("lavimo-upload-*")) <= before  # the upload was deleted
    _still_serves(motion_service)


def test_a_video_request_without_a_file_or_with_a_bad_k_is_refused(motion_service):
    answer = requests.post(f"{motion_service.url}/search/video", data={"k": "3"}, timeout=30)
    assert answer.status_code == 422 and "file: a video file is required" in answer.text, answer.text
    clip = Path(next(iter(motion_service.videos.values()))).read_bytes()
    answer = _upload(motion_service, "clip.mp4", clip, k="many")
    assert answer.status_code == 422 and "k: must be a whole number from 1 to 100" in answer.text, answer.text
    _still_serves(motion_service)


@pytest.mark.parametrize(
    "path",
    [
        "/motions/nope",
        "/motions/nope/video",
        "/motions/nope/joints.npy",
        "/motions/nope.bvh",
        "/search/motion/nope",
        "/motions/..%2F..%2Fetc%2Fpasswd/video",
    ],
)
def test_an_unknown_motion_is_404(motion_service, path):
    answer = requests.get(motion_service.url + path, timeout=30)
    assert answer.status_code == 404, answer.text
    _still_serves(motion_service)


def test_the_service_listens_on_localhost_only(motion_service):
    import ray

    outward = ray.util.get_node_ip_address()  # the address Ray's own services listen on
    if outward.startswith("127."):
        pytest.skip(f"this machine has no address but {outward} to try")
    with pytest.raises(OSError):
        socket.create_connection((outward, urlparse(motion_service.url).port), timeout=5).close()
