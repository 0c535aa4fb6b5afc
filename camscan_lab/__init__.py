"""The isolated lab: network namespaces of simulated devices, for tests, demos and benchmarks.

Not part of the product: it is installed with the `camscan[lab]` extra, and camscan offers
`camscan lab` and `camscan demo` only when this package imports.
"""

from __future__ import annotations

import importlib.util

# The `lab` extra's dependencies beyond camscan's own (keep in step with pyproject.toml).
_EXTRA = ("wsdiscovery",)

if _missing := [name for name in _EXTRA if importlib.util.find_spec(name) is None]:
    raise ImportError(f"camscan_lab needs {', '.join(_missing)}: pip install 'camscan[lab]'")
