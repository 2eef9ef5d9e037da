#!/usr/bin/python3
"""Runs the compat project: migrate, create the demo users, serve HTTP.

    JWTPAIR_SECRET=… DATABASE_URL=sqlite:////tmp/x.sqlite3 /usr/bin/python3 serve.py [-addr 127.0.0.1:0]

Users (ids as the jwtpair example numbers its -user flags):
  1 admin/admin    2 carol/carol    3 inactive/inactive (is_active=False)

Prints "listening on http://ADDR" once it accepts connections (port 0
picks a free one) and serves until SIGINT or SIGTERM. The server is the
standard library's WSGI server, threaded, with one change: a request
without a Content-Type header reaches Django without CONTENT_TYPE, as under
gunicorn or uWSGI (wsgiref alone would make it "text/plain"). With
-setup-only it migrates, creates the users and exits.
"""
import argparse
import os
import signal
import socketserver
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "compatproject.settings")

import django  # noqa: E402

USERS = [  # (username, password, is_active), created in this order: ids 1, 2, 3
    ("admin", "admin", True),
    ("carol", "carol", True),
    ("inactive", "inactive", False),
]


def setup():
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    User = get_user_model()
    for want_id, (name, password, active) in enumerate(USERS, start=1):
        user = User.objects.filter(username=name).first()
        if user is None:
            user = User.objects.create_user(username=name, password=password, is_active=active)
        if user.id != want_id:
            sys.exit("serve.py: user %s has id %d, want %d (start from an empty database)" % (name, user.id, want_id))


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Handler(WSGIRequestHandler):
    def get_environ(self):
        env = super().get_environ()
        if self.headers.get("Content-Type") is None:
            env.pop("CONTENT_TYPE", None)  # as gunicorn and uWSGI: absent, not "text/plain"
        return env

    def log_message(self, format, *args):
        pass


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-addr", default="127.0.0.1:8000", help="listen address (port 0: a free one)")
    p.add_argument("-setup-only", action="store_true", help="migrate and create the users, then exit")
    args = p.parse_args()
    setup()
    if args.setup_only:
        return
    from django.core.wsgi import get_wsgi_application

    host, _, port = args.addr.rpartition(":")
    httpd = make_server(host, int(port), get_wsgi_application(), server_class=ThreadingWSGIServer, handler_class=Handler)

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("listening on http://%s:%d" % httpd.server_address[:2], flush=True)
    httpd.serve_forever()
    httpd.server_close()


if __name__ == "__main__":
    main()
