"""moto's DynamoDB/SQS-compatible server on loopback, serving one request at a time.

moto's own `moto_server` answers requests on parallel threads, and its conditional writes are
not atomic across threads; DynamoDB's are. Serving requests one by one gives the tests the
atomicity DynamoDB guarantees, so a race test measures Guildbridge, not moto.

Usage: python tools/moto_server.py PORT
"""

import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main():
    port = int(sys.argv[1])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, app, threaded=False, use_reloader=False)


if __name__ == "__main__":
    main()
