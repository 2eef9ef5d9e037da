#!/usr/bin/python3
"""What DRF makes of request bodies, for compat's TestPythonParity.

Reads one request a line on stdin, as JSON: {"ct": Content-Type or null
(no header), "body": base64 of the body}. Writes one answer a line, as
JSON: {"status": …, "body": …}, what a view answers whose serializer has
two serializers.CharField(), username and password, when it reads
request.data with DRF's default parsers (JSON, form, multipart): 200 with
the validated data, 400 with the field errors, or the parser's refusal
(415, 400 {"detail"}); 500 {"error": …} for an exception DRF does not
handle.

    /usr/bin/python3 drfprobe.py < requests.jsonl
"""
import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "compatproject.settings")
os.environ.setdefault("JWTPAIR_SECRET", "drfprobe-needs-no-secret-but-settings-want-one")

import django  # noqa: E402

django.setup()

from django.test import RequestFactory  # noqa: E402
from rest_framework import serializers  # noqa: E402
from rest_framework.exceptions import APIException  # noqa: E402
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser  # noqa: E402
from rest_framework.request import Request  # noqa: E402


class Credentials(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField()


def answer(ct, body):
    factory = RequestFactory()
    req = factory.generic("POST", "/probe/", data=body, content_type=ct or "")
    if ct is None:
        req.META.pop("CONTENT_TYPE", None)
    request = Request(req, parsers=[JSONParser(), FormParser(), MultiPartParser()])
    try:
        s = Credentials(data=request.data)
        if s.is_valid():
            return {"status": 200, "body": dict(s.validated_data)}
        return {"status": 400, "body": s.errors}
    except APIException as e:
        return {"status": e.status_code, "body": {"detail": str(e.detail)}}
    except Exception as e:  # what DRF lets through: Django answers 500
        return {"status": 500, "body": {"error": type(e).__name__}}


def main():
    for line in sys.stdin:
        q = json.loads(line)
        out = answer(q["ct"], base64.b64decode(q["body"]))
        sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
