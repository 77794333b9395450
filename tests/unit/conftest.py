"""Make this repository importable as ``ansible_collections.ha_airflow.aws`` for plain pytest.

``make venv`` links the repository at ``.collections/ansible_collections/ha_airflow/aws``; ``ansible_collections`` is a
namespace package, so that path merges with the collections the ``ansible`` package ships (amazon.aws, ...).
"""

import os
import sys

_COLLECTIONS = os.path.join(os.path.dirname(__file__), "..", "..", ".collections")
if os.path.isdir(_COLLECTIONS) and os.path.abspath(_COLLECTIONS) not in sys.path:
    sys.path.insert(0, os.path.abspath(_COLLECTIONS))
