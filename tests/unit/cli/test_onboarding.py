"""What a newcomer types first: `eval "$(modelship local up --detach)"` and a look at the
expected data format."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest

from modelship.cli import main
from modelship.cli.commands.local import _announce


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_local_up_detach_output_can_be_evaluated_by_the_shell() -> None:
    state = {
        "pid": 4242,
        "time_scale": 1.0,
        "endpoints": {
            "api_url": "http://127.0.0.1:3000",
            "aws_endpoint": "http://127.0.0.1:5000",
            "environment": {
                "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
                "MODELSHIP_BUCKET": "modelship-local-models",
                "MODELSHIP_FUNCTION": "modelship-predict",
            },
        },
    }
    text = _announce(state)["text"]

    shell = subprocess.run(
        ["bash", "-c", 'eval "$1" && echo "$MODELSHIP_BUCKET $AWS_ENDPOINT_URL"', "-", text],
        capture_output=True,
        text=True,
        check=False,
    )

    assert shell.returncode == 0, shell.stderr
    assert shell.stderr == ""
    assert shell.stdout.strip() == "modelship-local-models http://127.0.0.1:5000"
    assert "http://127.0.0.1:3000" in text  # the API URL is still shown, as a comment


def test_data_export_writes_the_reference_data_as_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "churn.csv"

    assert main(["data", "export", "--out", str(out), "--rows", "50"]) == 0

    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 50
    assert "churned" in rows[0]
    assert {row["churned"] for row in rows} <= {"0", "1"}
    assert str(out) in capsys.readouterr().out
    # and it is what `modelship train --data` reads
    assert main(["train", "--data", str(out), "--out", str(tmp_path / "m")]) == 0


def test_data_export_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "churn.csv"
    out.write_text("mine\n")

    assert main(["data", "export", "--out", str(out)]) == 1
    assert out.read_text() == "mine\n"
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["status", "history"])
def test_read_only_commands_take_no_reason(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main([command, "--function", "f", "--bucket", "b", "--reason", "why"])

    assert status == 1
    assert capsys.readouterr().err.startswith("error [usage]: ")


def test_invoke_url_sends_the_event_to_the_http_api(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[tuple[str, str, bytes]] = []

    class Api(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            received.append((self.path, self.headers["Content-Type"], self.rfile.read(length)))
            body = b'{"model_version": "v0", "predictions": [0]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Model-Version", "v0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MODELSHIP_API_URL", f"http://127.0.0.1:{server.server_port}")
    try:
        status = main(["invoke", "--event", "predict_valid", "--url", "--output", "json"])
    finally:
        server.shutdown()

    answer = json.loads(capsys.readouterr().out)
    assert status == 0
    assert answer["statusCode"] == 200
    assert answer["body"]["predictions"] == [0]
    assert answer["headers"]["X-Model-Version"] == "v0"
    ((path, content_type, body),) = received
    assert (path, content_type) == ("/predict", "application/json")
    assert "instances" in json.loads(body)
