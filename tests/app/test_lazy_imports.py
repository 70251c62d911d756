"""What a configuration does not use is not imported: an exporter of an MK.IO
account with a secret-protected /events loads neither azure-identity (the Azure
sign-in methods) nor PyJWT and cryptography (Entra tokens): about 50 MB of RSS."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
from exporter.app.config import parse_config
from exporter.app.exporter import Exporter
config = parse_config('''
accounts:
  - {name: mk, api: mkio, project: p, auth: {method: token, token: x}}
events: {enabled: true, secrets: [abc]}
''')
exporter = Exporter(config)
exporter.text()
print(json.dumps(sorted(m for m in ("jwt", "cryptography", "azure.identity", "re2")
                        if m in sys.modules)))
"""


def test_an_mkio_exporter_with_a_secret_loads_no_azure_or_jwt():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == []
