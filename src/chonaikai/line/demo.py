"""The demo's LINE channel: fictional credentials shared by ``chonaikai demo`` and the fake server.

These are not secrets: they only open the fake LINE server on loopback. A real channel's
token and secret live in environment variables named by the tenant file.
"""

CHANNEL_ID = "2000000001"
TOKEN_ENV = "CHONAIKAI_DEMO_LINE_TOKEN"
SECRET_ENV = "CHONAIKAI_DEMO_LINE_SECRET"
ACCESS_TOKEN = "demo-line-access-token-for-the-fake-server-only"
CHANNEL_SECRET = "demo0secret0for0the0fake0server0"
FAKE_PORT = 8090
