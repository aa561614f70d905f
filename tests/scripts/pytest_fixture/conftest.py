"""pytest fixtures for code that calls AWS KMS, against `ebsim kms serve`: one server per test
run (moto's habits: any access key, account 123456789012), reset before every test.

Copy this file next to your tests. It runs the `ebsim` binary named by $EBSIM_BIN (default:
`ebsim` on PATH). Tests take `kms` (a boto3 KMS client) or `kms_endpoint` (the URL, for your
own clients)."""

import os
import shutil
import subprocess
import tempfile
import urllib.request

import boto3
import pytest


@pytest.fixture(scope="session")
def kms_endpoint():
    data_dir = tempfile.mkdtemp(prefix="ebsim-")
    server = subprocess.Popen(
        [
            os.environ.get("EBSIM_BIN", "ebsim"),
            "--data-dir", data_dir,
            "kms", "serve",
            "--listen", "127.0.0.1:0",
            "--credentials", "any-as-root",
            "--account", "123456789012",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = server.stdout.readline()  # "listening on 127.0.0.1:PORT"
    assert line.startswith("listening on "), line
    yield "http://" + line.split()[-1]
    server.terminate()
    server.wait(timeout=30)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def fresh_kms(kms_endpoint):
    """Every test starts from an empty data dir (keys, aliases, grants, clock, audit trail)."""
    req = urllib.request.Request(kms_endpoint + "/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200


@pytest.fixture
def kms(kms_endpoint):
    return boto3.client(
        "kms",
        endpoint_url=kms_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
